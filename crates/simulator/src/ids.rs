//! The alert ids of a tenant: one string holding them all, and an index by hash.
//!
//! A million ids as separate strings in a `HashMap<String, _>` take over 100 bytes each; here
//! they take their length plus about 24.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// Alert ids and interned strings are not chosen by an attacker: a quick hash will do.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<QuickHasher>>;

/// FxHash's mixing, 8 bytes at a time.
#[derive(Default)]
pub(crate) struct QuickHasher(u64);

impl Hasher for QuickHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Keys of `Ids::index` are hashes already.
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low ones the table indexes by.
        self.0 ^ (self.0 >> 32)
    }
}

/// Ids by position (creation order), and positions by id.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    text: String,
    /// Where each id ends in `text`.
    ends: Vec<usize>,
    /// Hash of an id → its position.
    index: FastMap<u64, u32>,
    /// Ids whose hash another id had first (practically never).
    clashes: HashMap<Box<str>, u32>,
}

impl Ids {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Ids {
            text: String::with_capacity(n * 32),
            ends: Vec::with_capacity(n),
            index: FastMap::with_capacity_and_hasher(n, Default::default()),
            clashes: HashMap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn get(&self, pos: usize) -> &str {
        let start = pos.checked_sub(1).map_or(0, |p| self.ends[p]);
        &self.text[start..self.ends[pos]]
    }

    fn hash(id: &str) -> u64 {
        BuildHasherDefault::<QuickHasher>::default().hash_one(id)
    }

    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        match self.index.get(&Self::hash(id)) {
            Some(&p) if self.get(p as usize) == id => Some(p as usize),
            Some(_) => self.clashes.get(id).map(|&p| p as usize),
            None => None,
        }
    }

    /// Adds a new id (not already here) at the next position.
    pub(crate) fn push(&mut self, id: &str) {
        let pos = self.ends.len() as u32;
        self.text.push_str(id);
        self.ends.push(self.text.len());
        match self.index.entry(Self::hash(id)) {
            Entry::Occupied(_) => {
                self.clashes.insert(id.into(), pos);
            }
            Entry::Vacant(slot) => {
                slot.insert(pos);
            }
        }
    }
}
