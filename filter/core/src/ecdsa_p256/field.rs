//! Arithmetic in the P-256 base field, integers modulo
//! p = 2^256 − 2^224 + 2^192 + 2^96 − 1 (FIPS 186-4 §D.1.2.3, SP 800-186 §3.2.1.3).
//!
//! Elements are kept fully reduced, in `[0, p)`, so equality is equality of limbs. Products are
//! reduced with the NIST fast reduction for this prime (FIPS 186-4 §D.2.3, after Solinas,
//! "Generalized Mersenne Numbers", 1999): the 512-bit product is folded into nine 256-bit terms
//! made of its own 32-bit words, added and subtracted without any multiplication.

use super::u256::{self, LIMBS, U256, ZERO};

/// p, least significant limb first.
const P: U256 = [
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0x0000_0000,
    0x0000_0000,
    0x0000_0000,
    0x0000_0001,
    0xffff_ffff,
];

/// An element of the field, in `[0, p)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fe(U256);

impl Fe {
    pub(super) const ZERO: Fe = Fe(ZERO);
    pub(super) const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0, 0]);

    /// `a` as an element, for constants: evaluated at compile time, where `a ≥ p` fails the build.
    pub(super) const fn constant(a: U256) -> Fe {
        assert!(u256::less_than(&a, &P), "field constant not below p");
        Fe(a)
    }

    /// The element with these 32 big-endian bytes, or `None` unless they encode a number below p.
    pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> Option<Fe> {
        Fe::from_limbs(u256::from_be_bytes(bytes))
    }

    /// The element `a`, or `None` unless `a < p`.
    pub(super) const fn from_limbs(a: U256) -> Option<Fe> {
        if u256::less_than(&a, &P) {
            Some(Fe(a))
        } else {
            None
        }
    }

    /// The canonical 32 big-endian bytes.
    #[cfg(test)]
    pub(super) fn to_be_bytes(self) -> [u8; 32] {
        u256::to_be_bytes(&self.0)
    }

    pub(super) fn is_zero(self) -> bool {
        u256::is_zero(&self.0)
    }

    // add, sub and double are inlined: a call costs more than their work in wasm, where
    // every function entry also checks the runtime's interruption deadline. Both outcomes are
    // computed and one is selected, rather than comparing limb by limb first.
    #[inline(always)]
    pub(super) fn add(self, other: Fe) -> Fe {
        let (sum, carry) = u256::add(&self.0, &other.0);
        let (reduced, borrow) = u256::sub(&sum, &P);
        // With a carry the true sum is 2^256 + sum ≥ p and `reduced` is that minus p; without
        // one, sum ≥ p exactly when subtracting p does not borrow.
        if carry || !borrow {
            Fe(reduced)
        } else {
            Fe(sum)
        }
    }

    #[inline(always)]
    pub(super) fn sub(self, other: Fe) -> Fe {
        let (difference, borrow) = u256::sub(&self.0, &other.0);
        let wrapped = u256::add(&difference, &P).0;
        if borrow {
            Fe(wrapped)
        } else {
            Fe(difference)
        }
    }

    #[cfg(test)]
    pub(super) fn neg(self) -> Fe {
        Fe::ZERO.sub(self)
    }

    #[inline(always)]
    pub(super) fn double(self) -> Fe {
        self.add(self)
    }

    pub(super) fn mul(self, other: Fe) -> Fe {
        reduce(&u256::mul_wide(&self.0, &other.0))
    }

    pub(super) fn square(self) -> Fe {
        reduce(&u256::square_wide(&self.0))
    }

    /// `self^-1` by Fermat's little theorem, `self^(p−2)`; zero maps to zero. Only used when
    /// tables are built (once for G, once per key), never per verification.
    pub(super) fn invert(self) -> Fe {
        let exponent = u256::sub(&P, &[2, 0, 0, 0, 0, 0, 0, 0]).0;
        let mut acc = Fe::ONE;
        for bit in (0..256).rev() {
            acc = acc.square();
            if (exponent[bit / 32] >> (bit % 32)) & 1 == 1 {
                acc = acc.mul(self);
            }
        }
        acc
    }
}

/// `c mod p` for a 512-bit `c = (c15, …, c0)` in 32-bit words, by FIPS 186-4 §D.2.3:
/// `c ≡ s1 + 2·s2 + 2·s3 + s4 + s5 − s6 − s7 − s8 − s9 (mod p)`, where, most significant word
/// first,
///
/// ```text
/// s1 = (c7,  c6,  c5,  c4,  c3,  c2,  c1,  c0)     s6 = (c10, c8,  0,   0,   0,   c13, c12, c11)
/// s2 = (c15, c14, c13, c12, c11, 0,   0,   0)      s7 = (c11, c9,  0,   0,   c15, c14, c13, c12)
/// s3 = (0,   c15, c14, c13, c12, 0,   0,   0)      s8 = (c12, 0,   c10, c9,  c8,  c15, c14, c13)
/// s4 = (c15, c14, 0,   0,   0,   c10, c9,  c8)     s9 = (c13, 0,   c11, c10, c9,  0,   c15, c14)
/// s5 = (c8,  c13, c15, c14, c13, c11, c10, c9)
/// ```
///
/// Below, each word of that sum is written out column by column (w0 is the least significant).
fn reduce(c: &[u32; 2 * LIMBS]) -> Fe {
    let c: [i64; 2 * LIMBS] = c.map(i64::from);
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15] = c;
    fold([
        c0 + c8 + c9 - c11 - c12 - c13 - c14,
        c1 + c9 + c10 - c12 - c13 - c14 - c15,
        c2 + c10 + c11 - c13 - c14 - c15,
        c3 + 2 * c11 + 2 * c12 + c13 - c15 - c8 - c9,
        c4 + 2 * c12 + 2 * c13 + c14 - c9 - c10,
        c5 + 2 * c13 + 2 * c14 + c15 - c10 - c11,
        c6 + 3 * c14 + 2 * c15 + c13 - c8 - c9,
        c7 + 3 * c15 + c8 - c10 - c11 - c12 - c13,
    ])
}

/// The number `Σ sums[i]·2^(32i)` (each `|sums[i]| < 2^40`) reduced into `[0, p)`.
///
/// Carries are propagated with an arithmetic shift; what is left above 2^256 is a small signed
/// multiple `k` of 2^256, folded back in with `2^256 ≡ 2^224 − 2^192 − 2^96 + 1 (mod p)`. After a
/// fold the carry is at most ±1, and a ±1 fold that carries again leaves a value that cannot
/// carry a third time, so the loop runs at most three times.
fn fold(mut sums: [i64; LIMBS]) -> Fe {
    loop {
        let mut limbs = ZERO;
        let mut carry = 0i64;
        for (limb, sum) in limbs.iter_mut().zip(&sums) {
            let value = sum + carry;
            *limb = value as u32;
            carry = value >> 32;
        }
        if carry == 0 {
            return match Fe::from_limbs(limbs) {
                Some(fe) => fe,
                // Below 2^256 < 2p: one subtraction is enough.
                None => Fe(u256::sub(&limbs, &P).0),
            };
        }
        sums = limbs.map(i64::from);
        sums[0] += carry;
        sums[3] -= carry;
        sums[6] -= carry;
        sums[7] += carry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fe(limbs: U256) -> Fe {
        Fe::from_limbs(limbs).unwrap()
    }

    fn p_minus(k: u32) -> Fe {
        fe(u256::sub(&P, &[k, 0, 0, 0, 0, 0, 0, 0]).0)
    }

    /// Reference product modulo p by shift-and-add doubling: slow, but shares nothing with
    /// `reduce` beyond `add`.
    fn slow_mul(a: Fe, b: Fe) -> Fe {
        let mut acc = Fe::ZERO;
        for bit in (0..256).rev() {
            acc = acc.double();
            if (b.0[bit / 32] >> (bit % 32)) & 1 == 1 {
                acc = acc.add(a);
            }
        }
        acc
    }

    fn samples() -> Vec<Fe> {
        let mut out = vec![
            Fe::ZERO,
            Fe::ONE,
            p_minus(1),
            p_minus(2),
            fe([0x8000_0000; 8]),
        ];
        let mut state = 0x1234_5678u32;
        for _ in 0..24 {
            let mut limbs = ZERO;
            for limb in &mut limbs {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *limb = state;
            }
            out.extend(Fe::from_limbs(limbs));
        }
        // Words of all ones and all zeros in the places the reduction moves around.
        out.push(fe([
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
            0,
            0,
        ]));
        out.push(fe([0, 0, 0, u32::MAX, u32::MAX, u32::MAX, 0, 0xffff_fffe]));
        out
    }

    /// FIPS 186-4 §D.2.3 transcribed term by term, (w7, …, w0) as the standard lists them.
    fn reduce_by_terms(c: &[u32; 2 * LIMBS]) -> Fe {
        let terms: [(i64, [Option<usize>; 8]); 9] = [
            (
                1,
                [
                    Some(7),
                    Some(6),
                    Some(5),
                    Some(4),
                    Some(3),
                    Some(2),
                    Some(1),
                    Some(0),
                ],
            ),
            (
                2,
                [
                    Some(15),
                    Some(14),
                    Some(13),
                    Some(12),
                    Some(11),
                    None,
                    None,
                    None,
                ],
            ),
            (
                2,
                [
                    None,
                    Some(15),
                    Some(14),
                    Some(13),
                    Some(12),
                    None,
                    None,
                    None,
                ],
            ),
            (
                1,
                [
                    Some(15),
                    Some(14),
                    None,
                    None,
                    None,
                    Some(10),
                    Some(9),
                    Some(8),
                ],
            ),
            (
                1,
                [
                    Some(8),
                    Some(13),
                    Some(15),
                    Some(14),
                    Some(13),
                    Some(11),
                    Some(10),
                    Some(9),
                ],
            ),
            (
                -1,
                [
                    Some(10),
                    Some(8),
                    None,
                    None,
                    None,
                    Some(13),
                    Some(12),
                    Some(11),
                ],
            ),
            (
                -1,
                [
                    Some(11),
                    Some(9),
                    None,
                    None,
                    Some(15),
                    Some(14),
                    Some(13),
                    Some(12),
                ],
            ),
            (
                -1,
                [
                    Some(12),
                    None,
                    Some(10),
                    Some(9),
                    Some(8),
                    Some(15),
                    Some(14),
                    Some(13),
                ],
            ),
            (
                -1,
                [
                    Some(13),
                    None,
                    Some(11),
                    Some(10),
                    Some(9),
                    None,
                    Some(15),
                    Some(14),
                ],
            ),
        ];
        let mut sums = [0i64; LIMBS];
        for (sign, words) in &terms {
            for (position, source) in words.iter().rev().enumerate() {
                if let Some(i) = source {
                    sums[position] += sign * i64::from(c[*i]);
                }
            }
        }
        fold(sums)
    }

    #[test]
    fn written_out_reduction_matches_the_standard_terms() {
        let values = samples();
        for a in &values {
            for b in &values {
                let wide = u256::mul_wide(&a.0, &b.0);
                assert_eq!(reduce(&wide), reduce_by_terms(&wide));
            }
        }
        let all_ones = [u32::MAX; 2 * LIMBS];
        assert_eq!(reduce(&all_ones), reduce_by_terms(&all_ones));
    }

    #[test]
    fn refuses_encodings_of_p_and_above() {
        assert!(Fe::from_be_bytes(&u256::to_be_bytes(&P)).is_none());
        assert!(Fe::from_be_bytes(&[0xff; 32]).is_none());
        assert_eq!(
            Fe::from_be_bytes(&p_minus(1).to_be_bytes()),
            Some(p_minus(1))
        );
    }

    #[test]
    fn addition_wraps_at_p() {
        assert_eq!(p_minus(1).add(Fe::ONE), Fe::ZERO);
        assert_eq!(p_minus(1).add(p_minus(1)), p_minus(2));
        assert_eq!(Fe::ZERO.sub(Fe::ONE), p_minus(1));
        assert_eq!(Fe::ONE.neg().add(Fe::ONE), Fe::ZERO);
        assert_eq!(Fe::ZERO.neg(), Fe::ZERO);
    }

    #[test]
    fn products_near_p_are_known() {
        // (p − 1)² = 1, (p − 1)(p − 2) = 2, 0·x = 0, 1·x = x.
        assert_eq!(p_minus(1).square(), Fe::ONE);
        assert_eq!(p_minus(1).mul(p_minus(2)), fe([2, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(p_minus(2).mul(Fe::ZERO), Fe::ZERO);
        assert_eq!(p_minus(2).mul(Fe::ONE), p_minus(2));
    }

    #[test]
    fn fast_reduction_matches_shift_and_add() {
        let values = samples();
        for a in &values {
            assert_eq!(a.square(), slow_mul(*a, *a), "{a:?}²");
            for b in &values {
                assert_eq!(a.mul(*b), slow_mul(*a, *b), "{a:?}·{b:?}");
            }
        }
    }

    #[test]
    fn inverse_times_value_is_one() {
        for a in samples().into_iter().filter(|a| !a.is_zero()) {
            assert_eq!(a.mul(a.invert()), Fe::ONE, "{a:?}");
        }
        assert_eq!(Fe::ZERO.invert(), Fe::ZERO);
    }
}
