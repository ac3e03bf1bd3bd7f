//! `Bitset`: which operations a partial linearization has placed.

/// A fixed-size set of operation indices.
///
/// Why a plain `Vec<u64>` rather than a hash of the set: the memo table must compare sets
/// exactly (a hash collision would prune a branch that was never explored, and could turn a
/// linearizable history into a reported violation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }
}

/// A fixed, seedless hasher (FxHash's multiply-rotate) for the memo table.
///
/// Why not `RandomState`: the table is only looked up, never iterated, so its order cannot leak
/// into a verdict; but a seedless hasher also makes the search's running time reproducible,
/// which benchmarks and step budgets rely on. Why not SipHash: the table is the hot path.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `BuildHasher` for [`FxHasher`].
pub(crate) type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_clear_contains() {
        let mut b = Bitset::new(130);
        b.set(0);
        b.set(129);
        assert!(b.contains(0) && b.contains(129) && !b.contains(64));
        b.clear(129);
        assert!(!b.contains(129));
        assert_eq!(b, {
            let mut c = Bitset::new(130);
            c.set(0);
            c
        });
    }
}
