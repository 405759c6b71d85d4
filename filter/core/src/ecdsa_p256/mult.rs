//! The double-scalar multiplication `u1·G + u2·Q` of ECDSA verification (SEC 1 v2 §4.1.4 step 5),
//! by Straus's interleaving ("Shamir's trick") over width-w NAF recodings of both scalars: one
//! shared chain of 256 doublings, plus one mixed addition per non-zero digit of either scalar,
//! taken from tables of odd multiples — built once for G, and once per key for Q.

use std::sync::OnceLock;

use super::point::{batch_to_affine, Affine, Jacobian, G};
use super::u256::U256;

/// NAF width for G: its table (32 points) is built once per process.
const G_WINDOW: u32 = 7;
/// NAF width for Q: its table (16 points) is built when the key is parsed.
const Q_WINDOW: u32 = 6;

/// Odd multiples `1P, 3P, …, (2^(w−1) − 1)P` for width w: every non-zero wNAF digit's magnitude.
pub(super) const G_TABLE_LEN: usize = 1 << (G_WINDOW - 2);
pub(super) const Q_TABLE_LEN: usize = 1 << (Q_WINDOW - 2);

/// Digits of a recoding: a 256-bit scalar plus a final carry that lands at most w − 1 places
/// above bit 255.
const NAF_LEN: usize = 256 + 8;
const _: () = assert!(G_WINDOW >= 2 && G_WINDOW <= 8 && Q_WINDOW >= 2 && Q_WINDOW <= 8);

/// The table of Q.
pub(super) type QTable = [Affine; Q_TABLE_LEN];

/// `u1·G + u2·Q` for `q_table = odd_multiples(Q)`; infinity is a possible result.
pub(super) fn mul_add(u1: &U256, u2: &U256, q_table: &QTable) -> Jacobian {
    let Some(g_table) = g_table() else {
        return Jacobian::INFINITY; // unreachable: kG ≠ ∞ for 0 < k < n
    };
    let g_digits = wnaf(u1, G_WINDOW);
    let q_digits = wnaf(u2, Q_WINDOW);
    let mut acc = Jacobian::INFINITY;
    for (g, q) in g_digits.iter().zip(&q_digits).rev() {
        if !acc.is_infinity() {
            acc = acc.double();
        }
        acc = add_digit(acc, *g, g_table);
        acc = add_digit(acc, *q, q_table);
    }
    acc
}

/// `acc + digit·P` for an odd digit `|digit| < 2·table.len()`, or `acc` for a zero digit.
fn add_digit(acc: Jacobian, digit: i8, table: &[Affine]) -> Jacobian {
    let point = match table.get(usize::from(digit.unsigned_abs() / 2)) {
        Some(point) if digit != 0 => point,
        _ => return acc,
    };
    if digit > 0 {
        acc.add_affine(point)
    } else {
        acc.add_affine(&point.neg())
    }
}

/// The table of G, built on first use.
fn g_table() -> Option<&'static [Affine; G_TABLE_LEN]> {
    static TABLE: OnceLock<Option<[Affine; G_TABLE_LEN]>> = OnceLock::new();
    TABLE.get_or_init(|| odd_multiples(G)).as_ref()
}

/// `[1P, 3P, 5P, …, (2K − 1)P]` in affine form; `None` only if one of them is infinity, which
/// cannot happen for a point of prime order n > 2K.
pub(super) fn odd_multiples<const K: usize>(p: Affine) -> Option<[Affine; K]> {
    let twice = Jacobian::from(p).double();
    let mut multiples = Vec::with_capacity(K);
    let mut current = Jacobian::from(p);
    for _ in 0..K {
        multiples.push(current);
        current = current.add(&twice);
    }
    batch_to_affine(&multiples)?.try_into().ok()
}

/// The width-`w` NAF of `k`: digits `d_i` that are zero or odd with `|d_i| < 2^(w−1)`, at most
/// one non-zero in any `w` consecutive, and `k = Σ d_i·2^i`.
///
/// Scans `k` from the bottom keeping a carry: where the current bit plus carry is odd, the next
/// `w` bits plus carry (an odd number below 2^w) become a digit, taken negative (minus 2^w,
/// carrying one upward) when it is 2^(w−1) or more, and the scan jumps `w` bits.
fn wnaf(k: &U256, w: u32) -> [i8; NAF_LEN] {
    let mut digits = [0i8; NAF_LEN];
    let mut bit = 0usize;
    let mut carry = 0u32;
    while bit < 256 {
        if bits_at(k, bit, 1) == carry {
            bit += 1;
            continue;
        }
        let window = bits_at(k, bit, w) + carry;
        carry = (window >> (w - 1)) & 1;
        digits[bit] = (window as i32 - ((carry as i32) << w)) as i8;
        bit += w as usize;
    }
    if carry != 0 {
        // bit ≤ 255 + w ≤ 263 < NAF_LEN.
        digits[bit] = 1;
    }
    digits
}

/// The `count` bits (≤ 8) of `k` from bit `at` upward; bits above 255 are zero.
fn bits_at(k: &U256, at: usize, count: u32) -> u32 {
    let limb = |i: usize| u64::from(k.get(i).copied().unwrap_or(0));
    let pair = limb(at / 32) | (limb(at / 32 + 1) << 32);
    ((pair >> (at % 32)) as u32) & ((1 << count) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa_p256::u256;

    /// Σ d_i·2^i back into a number, checking the digit rules on the way.
    fn evaluate(digits: &[i8], w: u32) -> U256 {
        let mut acc = u256::ZERO;
        let mut last_nonzero: Option<usize> = None;
        for (i, d) in digits.iter().enumerate().rev() {
            acc = u256::add(&acc, &acc).0;
            if *d != 0 {
                assert!(
                    d % 2 != 0 && i32::from(d.unsigned_abs()) < 1 << (w - 1),
                    "digit {d}"
                );
                if let Some(previous) = last_nonzero {
                    assert!(previous - i >= w as usize, "digits too close");
                }
                last_nonzero = Some(i);
                let magnitude = [u32::from(d.unsigned_abs()), 0, 0, 0, 0, 0, 0, 0];
                acc = if *d > 0 {
                    u256::add(&acc, &magnitude).0
                } else {
                    u256::sub(&acc, &magnitude).0
                };
            }
        }
        acc
    }

    #[test]
    fn recoding_round_trips_for_every_width() {
        let mut values = vec![
            u256::ZERO,
            [1, 0, 0, 0, 0, 0, 0, 0],
            [u32::MAX; 8],
            [0x5555_5555; 8],
        ];
        values.push([0xffff_ffff, 0, 0, 0, 0, 0, 0, 0x8000_0000]);
        let mut state = 0x2545_f491u32;
        for _ in 0..32 {
            values.push(core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state
            }));
        }
        for w in 2..=8 {
            for k in &values {
                let digits = wnaf(k, w);
                // All ones needs the final carry: 2^256 − 1 = 2^256 − 1·2^0.
                assert_eq!(&evaluate(&digits, w), k, "w = {w}, k = {k:x?}");
            }
        }
    }

    #[test]
    fn all_ones_recodes_with_a_carry_above_bit_255() {
        let digits = wnaf(&[u32::MAX; 8], 5);
        assert_eq!(digits[0], -1);
        assert_eq!(digits[256], 1);
    }

    #[test]
    fn tables_hold_consecutive_odd_multiples() {
        let table = g_table().unwrap();
        let g = Jacobian::from(G);
        let mut expected = g;
        for entry in table {
            assert_eq!(batch_to_affine(&[expected]).unwrap()[0], *entry);
            expected = expected.add(&g).add(&g);
        }
    }

    #[test]
    fn zero_scalars_give_infinity_and_one_gives_the_point() {
        let q_table = odd_multiples::<Q_TABLE_LEN>(G).unwrap();
        let one = [1, 0, 0, 0, 0, 0, 0, 0];
        assert!(mul_add(&u256::ZERO, &u256::ZERO, &q_table).is_infinity());
        let g = batch_to_affine(&[mul_add(&one, &u256::ZERO, &q_table)]).unwrap()[0];
        assert_eq!(g, G);
        // 1·G + (n − 1)·G = n·G = ∞, reached through the P + (−P) case of the addition.
        let n_minus_one = u256::sub(&super::super::scalar::N, &one).0;
        assert!(mul_add(&one, &n_minus_one, &q_table).is_infinity());
    }
}
