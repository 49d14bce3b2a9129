//! The RFC 6962 Merkle tree over audit entries: tree heads, inclusion and consistency proofs.
//!
//! Leaves are `SHA-256(0x00 ‖ line)` and interior nodes `SHA-256(0x01 ‖ left ‖ right)`.
//! Proof building and checking are delegated to the `ct-merkle` crate; this module adds a
//! [`Frontier`] (the "compact range" of a tree: one perfect-subtree hash per set bit of its
//! size), which lets the writer and the verifier compute tree heads incrementally from leaf
//! hashes alone, without holding every line in memory. Both are checked against the
//! Certificate Transparency known-answer vectors in the tests below.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// RFC 6962 leaf hash: `SHA-256(0x00 ‖ line)`.
pub fn leaf_hash(line: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(line);
    h.finalize().into()
}

/// RFC 6962 interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The tree head of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The right edge of a Merkle tree: enough to append leaves and compute the tree head.
///
/// `nodes` holds the roots of the perfect subtrees that make up the tree, largest (leftmost)
/// first; there is one per set bit of `size`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    nodes: Vec<Hash>,
    size: u64,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier stored as concatenated 32-byte hashes, for a tree of `size` leaves.
    /// Returns `None` when the bytes cannot be the frontier of a tree of that size.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Frontier> {
        if bytes.len() % 32 != 0 || bytes.len() / 32 != size.count_ones() as usize {
            return None;
        }
        let nodes = bytes
            .chunks_exact(32)
            .map(|c| <Hash>::try_from(c).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Frontier { nodes, size })
    }

    /// The frontier as concatenated 32-byte hashes (see [`Frontier::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.nodes.concat()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each trailing one bit of the old size is a perfect subtree the same height as the
        // one being carried; they merge, like carries in a binary increment.
        while size & 1 == 1 {
            let left = self
                .nodes
                .pop()
                .expect("a frontier has one node per set bit of its size");
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The root of the rightmost perfect subtree: the hash over the last `size & -size`
    /// leaves (`None` for an empty tree).
    pub fn last_node(&self) -> Option<&Hash> {
        self.nodes.last()
    }

    /// The tree head (MTH of RFC 6962) of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// The tree head of a list of leaf hashes.
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut f = Frontier::new();
    for l in leaves {
        f.push(*l);
    }
    f.root()
}

/// A tree of whole lines held in memory, for building proofs (`audit prove`).
pub struct LineTree {
    tree: MemoryBackedTree<Sha256, Vec<u8>>,
}

impl LineTree {
    pub fn new<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut tree = MemoryBackedTree::new();
        for l in lines {
            tree.push(l.to_vec());
        }
        LineTree { tree }
    }

    pub fn len(&self) -> u64 {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    pub fn root(&self) -> Hash {
        (*self.tree.root().as_bytes()).into()
    }

    /// The audit path of leaf `index` (0-based), leaf side first, or `None` when out of range.
    pub fn inclusion_proof(&self, index: u64) -> Option<Vec<Hash>> {
        let idx = usize::try_from(index).ok()?;
        if index >= self.tree.len() {
            return None;
        }
        Some(split_hashes(self.tree.prove_inclusion(idx).as_bytes()))
    }

    /// A proof that the first `old_size` leaves are a prefix of this tree.
    pub fn consistency_proof(&self, old_size: u64) -> Option<Vec<Hash>> {
        if old_size == 0 || old_size > self.tree.len() {
            return None;
        }
        let additions = usize::try_from(self.tree.len() - old_size).ok()?;
        Some(split_hashes(
            self.tree.prove_consistency(additions).as_bytes(),
        ))
    }
}

fn split_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect()
}

/// Checks that `line` is leaf `index` of the tree of `size` leaves whose head is `root`.
pub fn verify_inclusion(line: &[u8], index: u64, size: u64, root: &Hash, proof: &[Hash]) -> bool {
    let head = RootHash::<Sha256>::new((*root).into(), size);
    let proof = InclusionProof::<Sha256>::from_digests(proof.iter().map(|h| h.into()));
    head.verify_inclusion(&line, index, &proof).is_ok()
}

/// Checks that the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`).
pub fn verify_consistency(
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == new_size {
        return old_root == new_root && proof.is_empty();
    }
    let old = RootHash::<Sha256>::new((*old_root).into(), old_size);
    let new = RootHash::<Sha256>::new((*new_root).into(), new_size);
    let proof = ConsistencyProof::<Sha256>::from_digests(proof.iter().map(|h| h.into()));
    new.verify_consistency(&old, &proof).is_ok()
}

#[cfg(test)]
mod tests {
    //! Known answers from Certificate Transparency (the C++ `merkle_tree_test.cc` vectors, as
    //! repeated in transparency-dev/merkle `proof/verify_test.go`).
    use super::*;

    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// (leaf number, 1-based; tree size; audit path)
    const INCLUSION: [(u64, u64, &[&str]); 4] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            3,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            2,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    /// (old size, new size, proof)
    const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn lines() -> Vec<Vec<u8>> {
        LEAVES.iter().map(|l| hex::decode(l).unwrap()).collect()
    }

    #[test]
    fn the_empty_tree_has_the_hash_of_the_empty_string() {
        assert_eq!(
            hex::encode(Frontier::new().root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tree_heads_match_the_certificate_transparency_vectors() {
        let lines = lines();
        for size in 1..=8 {
            let leaves: Vec<Hash> = lines[..size].iter().map(|l| leaf_hash(l)).collect();
            assert_eq!(
                root_of(&leaves),
                h(ROOTS[size - 1]),
                "frontier, size {size}"
            );
            let tree = LineTree::new(lines[..size].iter().map(|l| l.as_slice()));
            assert_eq!(tree.root(), h(ROOTS[size - 1]), "ct-merkle, size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_certificate_transparency_vectors() {
        let lines = lines();
        for (leaf, size, path) in INCLUSION {
            let tree = LineTree::new(lines[..size as usize].iter().map(|l| l.as_slice()));
            let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
            assert_eq!(tree.inclusion_proof(leaf - 1).unwrap(), want);
            let root = h(ROOTS[size as usize - 1]);
            let line = &lines[leaf as usize - 1];
            assert!(verify_inclusion(line, leaf - 1, size, &root, &want));
            assert!(!verify_inclusion(
                b"WrongLeaf",
                leaf - 1,
                size,
                &root,
                &want
            ));
            assert!(!verify_inclusion(line, leaf, size, &root, &want));
            let mut bent = want.clone();
            bent[0][0] ^= 8;
            assert!(!verify_inclusion(line, leaf - 1, size, &root, &bent));
        }
    }

    #[test]
    fn consistency_proofs_match_the_certificate_transparency_vectors() {
        let lines = lines();
        for (old, new, path) in CONSISTENCY {
            let tree = LineTree::new(lines[..new as usize].iter().map(|l| l.as_slice()));
            let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
            assert_eq!(tree.consistency_proof(old).unwrap(), want);
            let (r1, r2) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
            assert!(verify_consistency(old, &r1, new, &r2, &want));
            assert!(!verify_consistency(old, &r2, new, &r1, &want));
        }
    }

    #[test]
    fn a_frontier_survives_a_round_trip_through_its_bytes() {
        let mut f = Frontier::new();
        for l in lines() {
            f.push(leaf_hash(&l));
            let back = Frontier::from_bytes(f.size(), &f.to_bytes()).unwrap();
            assert_eq!(back, f);
        }
        assert!(Frontier::from_bytes(3, &[0u8; 32]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn the_frontier_agrees_with_ct_merkle_on_any_tree(
            lines in proptest::collection::vec(proptest::collection::vec(0u8.., 0..8), 1..70)
        ) {
            let tree = LineTree::new(lines.iter().map(|l| l.as_slice()));
            let leaves: Vec<Hash> = lines.iter().map(|l| leaf_hash(l)).collect();
            proptest::prop_assert_eq!(root_of(&leaves), tree.root());
        }
    }
}
