//! A downloaded body, left where the runtime holds it.
//!
//! In a Worker a bulk-result part (8 MiB) stays in JavaScript memory as a `Uint8Array`: the
//! parser copies it into wasm memory a slice at a time, and the archive hands the same
//! array to R2 as it is. Holding whole parts in wasm memory instead grew the heap in steps
//! of a part: a freed 8 MiB block is rarely reused whole once small allocations sit in it,
//! and wasm memory never shrinks. Natively the body is a plain `Vec<u8>`.

/// Bytes of a response body (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct Body(Inner);

#[cfg(not(target_arch = "wasm32"))]
type Inner = Vec<u8>;

#[cfg(target_arch = "wasm32")]
#[derive(Clone, Debug)]
struct Inner(js_sys::Uint8Array);

#[cfg(target_arch = "wasm32")]
impl Default for Inner {
    fn default() -> Self {
        Self(js_sys::Uint8Array::new_with_length(0))
    }
}

fn clamp(start: usize, end: usize, len: usize) -> (usize, usize) {
    let end = end.min(len);
    (start.min(end), end)
}

impl Body {
    pub fn len(&self) -> usize {
        #[cfg(not(target_arch = "wasm32"))]
        return self.0.len();
        #[cfg(target_arch = "wasm32")]
        return self.0 .0.length() as usize;
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `start..end` (clamped to the body) as a body of their own; in a Worker a view
    /// of the same array, not a copy.
    pub fn slice(&self, start: usize, end: usize) -> Body {
        let (start, end) = clamp(start, end, self.len());
        #[cfg(not(target_arch = "wasm32"))]
        return Body(self.0[start..end].to_vec());
        #[cfg(target_arch = "wasm32")]
        return Body(Inner(self.0 .0.subarray(start as u32, end as u32)));
    }

    /// Appends bytes `start..end` (clamped to the body) to `out`.
    pub fn append_to(&self, start: usize, end: usize, out: &mut Vec<u8>) {
        let (start, end) = clamp(start, end, self.len());
        #[cfg(not(target_arch = "wasm32"))]
        out.extend_from_slice(&self.0[start..end]);
        #[cfg(target_arch = "wasm32")]
        {
            let from = out.len();
            out.resize(from + (end - start), 0);
            self.0 .0.subarray(start as u32, end as u32).copy_to(&mut out[from..]);
        }
    }

    /// Every byte, copied.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.append_to(0, self.len(), &mut out);
        out
    }

    /// The array itself, for JavaScript APIs that take one (R2 `uploadPart`).
    #[cfg(target_arch = "wasm32")]
    pub fn as_uint8_array(&self) -> &js_sys::Uint8Array {
        &self.0 .0
    }

    #[cfg(target_arch = "wasm32")]
    pub fn from_uint8_array(array: js_sys::Uint8Array) -> Self {
        Body(Inner(array))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        return Body(bytes);
        #[cfg(target_arch = "wasm32")]
        return Body(Inner(js_sys::Uint8Array::from(bytes.as_slice())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_copies_are_clamped_to_the_body() {
        let body = Body::from(b"0123456789".to_vec());
        assert_eq!((body.len(), body.is_empty()), (10, false));
        assert_eq!(body.slice(2, 5).to_vec(), b"234");
        assert_eq!(body.slice(8, 50).to_vec(), b"89");
        assert!(body.slice(12, 20).is_empty());
        let mut out = b"ab".to_vec();
        body.append_to(7, 99, &mut out);
        assert_eq!(out, b"ab789");
        assert!(Body::default().is_empty());
    }
}
