//! The bulk result file (JSONL), read as it streams: bytes in, one record per line out,
//! never holding more than one unfinished line. Children name their parent in
//! `__parentId`; with `groupObjects: false` a child may come before its parent, so nothing
//! here relies on order: each record carries its own id and its parent's id, and the
//! store resolves parents by id.
//!
//! Followed: <https://shopify.dev/docs/api/usage/bulk-operations/queries#the-jsonl-data-format>.

use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// A line longer than this is refused rather than buffered without bound.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct BulkRecord {
    /// The object's GID, e.g. `gid://shopify/Order/1001`.
    pub id: String,
    /// The type named by the GID, e.g. `Order`, `LineItem`.
    pub typename: String,
    /// The parent's GID for a child line.
    pub parent_id: Option<String>,
    /// The line as it stood in the file (a JSON object), for a typed parse by its consumer:
    /// building a generic `Value` of every line was most of the parse time.
    pub raw: Vec<u8>,
    /// Byte offset just past this line in the file (a resumable checkpoint).
    pub end_offset: u64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonlError {
    #[error("line {line} (byte {offset}): {message}")]
    BadLine { line: u64, offset: u64, message: String },
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong { line: u64 },
}

impl BulkRecord {
    /// The line's fields as a generic JSON value, without `__parentId`.
    pub fn fields(&self) -> Value {
        let mut value: Value = serde_json::from_slice(&self.raw).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("__parentId");
        }
        value
    }
}

/// What the reader itself needs of a line; every other field is skipped unparsed.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "__parentId", borrow, default)]
    parent_id: Option<Cow<'a, str>>,
}

/// The type name in a GID: `gid://shopify/LineItem/42` → `LineItem`.
pub fn gid_type(gid: &str) -> Option<&str> {
    let rest = gid.strip_prefix("gid://shopify/")?;
    let name = rest.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// Incremental reader. Feed it chunks of any size; it returns the records completed.
pub struct JsonlReader {
    pending: Vec<u8>,
    /// Offset of the first byte of `pending` in the file.
    pending_start: u64,
    lines: u64,
}

impl JsonlReader {
    /// Starts reading at `offset` (0, or a checkpoint from an earlier [`BulkRecord::end_offset`]).
    pub fn starting_at(offset: u64, lines_before: u64) -> Self {
        Self {
            pending: Vec::new(),
            pending_start: offset,
            lines: lines_before,
        }
    }

    pub fn lines_read(&self) -> u64 {
        self.lines
    }

    /// Consumes a chunk; returns every record whose line ended in it.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<BulkRecord>, JsonlError> {
        let mut out = Vec::new();
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let line = if self.pending.is_empty() {
                rest[..newline].to_vec()
            } else {
                self.pending.extend_from_slice(&rest[..newline]);
                std::mem::take(&mut self.pending)
            };
            rest = &rest[newline + 1..];
            let start = self.pending_start;
            self.pending_start += line.len() as u64 + 1;
            if let Some(record) = self.parse(line, start, self.pending_start)? {
                out.push(record);
            }
        }
        self.pending.extend_from_slice(rest);
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(JsonlError::LineTooLong { line: self.lines + 1 });
        }
        Ok(out)
    }

    /// Ends the stream: a last line without a trailing newline is still a line.
    pub fn finish(mut self) -> Result<Option<BulkRecord>, JsonlError> {
        let line = std::mem::take(&mut self.pending);
        let start = self.pending_start;
        let end = start + line.len() as u64;
        self.parse(line, start, end)
    }

    fn parse(&mut self, line: Vec<u8>, start: u64, end: u64) -> Result<Option<BulkRecord>, JsonlError> {
        let trimmed = line.strip_suffix(b"\r").unwrap_or(&line);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        self.lines += 1;
        let bad = |message: String| JsonlError::BadLine {
            line: self.lines,
            offset: start,
            message,
        };
        if trimmed.first() != Some(&b'{') {
            return Err(bad("not a JSON object".into()));
        }
        let head: Head = serde_json::from_slice(trimmed).map_err(|e| bad(e.to_string()))?;
        let id = head.id.ok_or_else(|| bad("the line has no id".into()))?.into_owned();
        let parent_id = head.parent_id.map(Cow::into_owned);
        let typename = gid_type(&id)
            .ok_or_else(|| bad(format!("{id} is not a Shopify GID")))?
            .to_owned();
        Ok(Some(BulkRecord {
            id,
            typename,
            parent_id,
            raw: line,
            end_offset: end,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = concat!(
        r#"{"id":"gid://shopify/LineItem/11","quantity":2,"__parentId":"gid://shopify/Order/1"}"#,
        "\n",
        r##"{"id":"gid://shopify/Order/1","name":"#1001"}"##,
        "\n",
        r#"{"id":"gid://shopify/Refund/7","__parentId":"gid://shopify/Order/1"}"#,
        "\n",
        r##"{"id":"gid://shopify/Order/2","name":"#1002"}"##
    );

    fn read_in_chunks(size: usize) -> Vec<BulkRecord> {
        let mut reader = JsonlReader::starting_at(0, 0);
        let mut records = Vec::new();
        for chunk in FILE.as_bytes().chunks(size) {
            records.extend(reader.feed(chunk).unwrap());
        }
        records.extend(reader.finish().unwrap());
        records
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let whole = read_in_chunks(FILE.len());
        for size in [1, 2, 3, 7, 64] {
            assert_eq!(read_in_chunks(size), whole, "chunk size {size}");
        }
        let ids: Vec<_> = whole
            .iter()
            .map(|r| (r.typename.as_str(), r.parent_id.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                ("LineItem", Some("gid://shopify/Order/1")),
                ("Order", None),
                ("Refund", Some("gid://shopify/Order/1")),
                ("Order", None)
            ]
        );
        assert!(whole[0].fields().get("__parentId").is_none());
        assert_eq!(whole[0].fields()["quantity"], 2);
        assert_eq!(whole.last().unwrap().end_offset, FILE.len() as u64);
    }

    #[test]
    fn a_checkpoint_resumes_exactly_where_it_stopped() {
        let whole = read_in_chunks(5);
        let checkpoint = whole[1].end_offset;
        let mut reader = JsonlReader::starting_at(checkpoint, 2);
        let mut resumed = reader.feed(&FILE.as_bytes()[checkpoint as usize..]).unwrap();
        assert_eq!(reader.lines_read(), 3, "line numbers continue from the checkpoint");
        resumed.extend(reader.finish().unwrap());
        assert_eq!(resumed, whole[2..].to_vec());
    }

    #[test]
    fn a_bad_line_is_reported_by_number_and_offset() {
        let mut reader = JsonlReader::starting_at(0, 0);
        let err = reader
            .feed(b"{\"id\":\"gid://shopify/Order/1\"}\n{oops}\n")
            .unwrap_err();
        assert!(
            matches!(
                err,
                JsonlError::BadLine {
                    line: 2,
                    offset: 31,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
