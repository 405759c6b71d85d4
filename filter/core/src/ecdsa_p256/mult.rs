//! The double-scalar multiplication `u1·G + u2·Q` of ECDSA verification (SEC 1 v2 §4.1.4 step 5),
//! by the fixed-base comb method (Lim and Lee, CRYPTO '94) applied to both points: a 256-bit
//! scalar is read as 32 columns of 8 bits spaced 32 apart, and each column selects one of the 255
//! non-trivial sums of `2^(32j)·P`, `j = 0..8`, from a table built once for G and once per key for
//! Q. One shared chain of 31 doublings and at most 64 mixed additions, where a windowed chain over
//! all 256 bits needs 256 doublings: keys are long-lived (they come from a JWKS), so the work moves
//! to the key's first verification, once.

use std::sync::OnceLock;

use super::point::{batch_to_affine, Affine, Jacobian, G};
use super::u256::U256;

/// Bits per column (one per 32-bit limb of the scalar) and columns (the limb width).
const TEETH: usize = 8;
const COLUMNS: usize = 32;
const _: () = assert!(TEETH * COLUMNS == 256 && TEETH == super::u256::LIMBS);

/// Entries of a comb table: index `b` holds `Σ 2^(32j)·P` over the bits `j` set in `b`.
pub(super) const TABLE_LEN: usize = 1 << TEETH;

/// A comb table. Entry 0 (the empty sum, infinity) is never read and holds P.
pub(super) type CombTable = [Affine; TABLE_LEN];

/// `u1·G + u2·Q` for `q_table = comb_table(Q)`; infinity is a possible result.
pub(super) fn mul_add(u1: &U256, u2: &U256, q_table: &CombTable) -> Jacobian {
    let Some(g_table) = g_table() else {
        return Jacobian::INFINITY; // unreachable: kG ≠ ∞ for 0 < k < n
    };
    let mut acc = Jacobian::INFINITY;
    for column in (0..COLUMNS).rev() {
        if !acc.is_infinity() {
            acc = acc.double();
        }
        acc = add_entry(acc, column_of(u1, column), g_table);
        acc = add_entry(acc, column_of(u2, column), q_table);
    }
    acc
}

/// Bit `column` of every limb of `k`, limb `j` as bit `j`: the index of the table entry
/// `Σ 2^(32j)·P` that column contributes.
fn column_of(k: &U256, column: usize) -> usize {
    k.iter().enumerate().fold(0, |index, (j, limb)| {
        index | ((((limb >> column) & 1) as usize) << j)
    })
}

/// `acc + table[index]`, or `acc` for index 0 (the empty sum).
fn add_entry(acc: Jacobian, index: usize, table: &CombTable) -> Jacobian {
    match table.get(index) {
        Some(point) if index != 0 => acc.add_affine(point),
        _ => acc,
    }
}

/// The table of G, built on first use.
fn g_table() -> Option<&'static CombTable> {
    static TABLE: OnceLock<Option<Box<CombTable>>> = OnceLock::new();
    TABLE.get_or_init(|| comb_table(G)).as_deref()
}

/// The comb table of `p` in affine form: `2^(32j)·p` by doublings, then every other entry as one
/// entry plus one of those. `None` only if an entry is infinity, which cannot happen for a point
/// of prime order n: every entry is `k·p` with `0 < k < 2^225 < n`.
pub(super) fn comb_table(p: Affine) -> Option<Box<CombTable>> {
    let mut powers = [Jacobian::from(p); TEETH];
    for j in 1..TEETH {
        let mut q = powers[j - 1];
        for _ in 0..COLUMNS {
            q = q.double();
        }
        powers[j] = q;
    }
    let mut sums = vec![Jacobian::INFINITY; TABLE_LEN];
    for index in 1..TABLE_LEN {
        let low = index.trailing_zeros() as usize;
        let rest = index & (index - 1);
        sums[index] = if rest == 0 {
            powers[low]
        } else {
            sums[rest].add(&powers[low])
        };
    }
    sums[0] = Jacobian::from(p);
    let affine = batch_to_affine(&sums)?;
    affine.into_boxed_slice().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa_p256::u256;

    /// `k·P` by plain double-and-add over the bits of `k`, as a reference.
    fn slow_mul(k: &U256, p: Affine) -> Jacobian {
        let mut acc = Jacobian::INFINITY;
        for bit in (0..256).rev() {
            acc = acc.double();
            if (k[bit / 32] >> (bit % 32)) & 1 == 1 {
                acc = acc.add_affine(&p);
            }
        }
        acc
    }

    fn affine(p: &Jacobian) -> Affine {
        batch_to_affine(&[*p]).unwrap()[0]
    }

    #[test]
    fn columns_take_one_bit_from_each_limb() {
        let k: U256 = [1, 0, 1 << 5, 0, 0, 0, 0, 1 << 31 | 1 << 5];
        assert_eq!(column_of(&k, 0), 0b0000_0001);
        assert_eq!(column_of(&k, 5), 0b1000_0100);
        assert_eq!(column_of(&k, 31), 0b1000_0000);
        assert_eq!(column_of(&k, 7), 0);
    }

    #[test]
    fn table_entries_are_the_sums_of_their_bits() {
        let table = g_table().unwrap();
        for index in [1usize, 2, 3, 0x80, 0x81, 0x55, 0xaa, 0xff] {
            let mut k = u256::ZERO;
            for (j, limb) in k.iter_mut().enumerate() {
                *limb = ((index >> j) & 1) as u32;
            }
            assert_eq!(table[index], affine(&slow_mul(&k, G)), "entry {index:#x}");
        }
    }

    #[test]
    fn comb_matches_double_and_add() {
        let q = affine(&slow_mul(&[7, 0, 0, 0, 0, 0, 0, 0], G));
        let q_table = comb_table(q).unwrap();
        let mut state = 0x2545_f491u32;
        for _ in 0..4 {
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state
            };
            let (mut u1, mut u2) = (u256::ZERO, u256::ZERO);
            u1.iter_mut().for_each(|l| *l = next());
            u2.iter_mut().for_each(|l| *l = next());
            u1[7] &= 0x7fff_ffff; // below n
            u2[7] &= 0x7fff_ffff;
            let want = slow_mul(&u1, G).add(&slow_mul(&u2, q));
            assert_eq!(affine(&mul_add(&u1, &u2, &q_table)), affine(&want));
        }
    }

    #[test]
    fn zero_scalars_give_infinity_and_one_gives_the_point() {
        let q_table = comb_table(G).unwrap();
        let one = [1, 0, 0, 0, 0, 0, 0, 0];
        assert!(mul_add(&u256::ZERO, &u256::ZERO, &q_table).is_infinity());
        let g = affine(&mul_add(&one, &u256::ZERO, &q_table));
        assert_eq!(g, G);
        // 1·G + (n − 1)·G = n·G = ∞, reached through the P + (−P) case of the addition.
        let n_minus_one = u256::sub(&super::super::scalar::N, &one).0;
        assert!(mul_add(&one, &n_minus_one, &q_table).is_infinity());
    }
}
