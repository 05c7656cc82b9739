//! `Parser::feed(bytes)` does what the ingest Worker does with each downloaded part:
//! split lines, parse JSON, build the chunk's row vectors. Exported with wasm-bindgen so
//! `scripts/bench-parse.mjs` can time it in node; natively the benchmark calls [`parse_part`].

use domain::store::rows::ChunkRows;
use shopify::jsonl::JsonlReader;
use wasm_bindgen::prelude::wasm_bindgen;

/// Parses one part; returns (records, primary rows) or the first error.
pub fn parse_part(reader: &mut JsonlReader, bytes: &[u8]) -> Result<(u64, u64), String> {
    let records = reader.feed(bytes).map_err(|e| e.to_string())?;
    let mut rows = ChunkRows::default();
    for record in &records {
        rows.add(record).map_err(|e| e.to_string())?;
    }
    Ok((records.len() as u64, rows.primary_rows() as u64))
}

#[wasm_bindgen]
pub struct Parser {
    reader: JsonlReader,
    records: u64,
    rows: u64,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Parser {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Parser {
        Parser {
            reader: JsonlReader::starting_at(0, 0),
            records: 0,
            rows: 0,
        }
    }

    /// Feeds one part; returns false on a parse error.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        match parse_part(&mut self.reader, bytes) {
            Ok((records, rows)) => {
                self.records += records;
                self.rows += rows;
                true
            }
            Err(_) => false,
        }
    }

    pub fn records(&self) -> f64 {
        self.records as f64
    }

    pub fn rows(&self) -> f64 {
        self.rows as f64
    }

    /// The module's linear memory in bytes.
    pub fn memory_bytes(&self) -> f64 {
        #[cfg(target_arch = "wasm32")]
        {
            (core::arch::wasm32::memory_size(0) * 65536) as f64
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            0.0
        }
    }
}
