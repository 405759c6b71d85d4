//! Arithmetic modulo one odd RSA modulus in Montgomery form: the per-key constants (computed once
//! when the key is parsed) and the public-exponent power `s^e mod n` that every verification
//! needs. It does not know about byte encodings, hashes or padding.
//!
//! Multiplication is CIOS Montgomery (Koç, Acar, Kaliski, "Analyzing and Comparing Montgomery
//! Multiplication Algorithms", IEEE Micro 1996) with the multiply and reduce passes fused, on
//! 32-bit limbs with 64-bit intermediate products. Public inputs only: branches and loop counts
//! depend on the values on purpose.

use super::bignum::{bit_length, double_mod, less_than, sub_assign, LIMB_BITS};
use super::lazy::Lazy;

/// An odd modulus `n` of `k` limbs with `R = 2^(32k)` and the constants Montgomery needs.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Modulus {
    /// `n`, little-endian limbs, the top one non-zero.
    n: Vec<u32>,
    /// `-n^-1 mod 2^32`.
    n0_inv: u32,
    /// `R^2 mod n`, which takes a number into Montgomery form with one multiplication.
    r_squared: Vec<u32>,
    /// The faster 28-bit arithmetic, for moduli small enough for it (all 2048- and 3072-bit keys).
    lazy: Option<Lazy>,
}

impl Modulus {
    /// `None` unless `n` is odd, above one and has a non-zero top limb.
    pub(super) fn new(n: Vec<u32>) -> Option<Modulus> {
        let odd = n.first().is_some_and(|low| low & 1 == 1);
        if !odd || n.last() == Some(&0) || bit_length(&n) < 2 {
            return None;
        }
        let mut modulus = Modulus {
            n0_inv: neg_inverse(n[0]),
            r_squared: Vec::new(),
            lazy: None,
            n,
        };
        modulus.r_squared = modulus.compute_r_squared();
        modulus.lazy = Lazy::new(&modulus.n, modulus.n0_inv, &modulus.r_squared);
        Some(modulus)
    }

    /// The modulus limbs.
    pub(super) fn limbs(&self) -> &[u32] {
        &self.n
    }

    /// `base^e mod n` for `base < n` of the modulus' limb count and `e ≥ 1`.
    pub(super) fn pow(&self, base: &[u32], e: u64) -> Vec<u32> {
        match &self.lazy {
            Some(lazy) => lazy.pow(base, e),
            None => self.pow_reference(base, e),
        }
    }

    /// The 28-bit arithmetic for this modulus, if it is small enough for it.
    #[cfg(test)]
    pub(super) fn lazy(&self) -> Option<&Lazy> {
        self.lazy.as_ref()
    }

    /// `pow` on 32-bit limbs: the path for moduli too large for `Lazy`, and its reference.
    ///
    /// Left-to-right square-and-multiply in Montgomery form. The last step multiplies by the
    /// plain `base` (or by 1 for an even `e`), which also leaves Montgomery form: for e = 65537
    /// this is 1 conversion, 16 squarings and 1 multiplication.
    pub(super) fn pow_reference(&self, base: &[u32], e: u64) -> Vec<u32> {
        let k = self.n.len();
        let mut base_mont = vec![0u32; k + 1];
        self.mul(base, &self.r_squared, &mut base_mont);
        let mut acc = base_mont.clone();
        let mut scratch = vec![0u32; k + 1];
        let mut wide = vec![0u32; 2 * k + 1];
        let top = u64::BITS - 1 - e.max(1).leading_zeros();
        for bit in (1..top).rev() {
            self.square(&acc, &mut scratch, &mut wide);
            std::mem::swap(&mut acc, &mut scratch);
            if (e >> bit) & 1 == 1 {
                self.mul(&acc, &base_mont, &mut scratch);
                std::mem::swap(&mut acc, &mut scratch);
            }
        }
        if top > 0 {
            self.square(&acc, &mut scratch, &mut wide);
            std::mem::swap(&mut acc, &mut scratch);
            if e & 1 == 1 {
                self.mul(&acc, base, &mut scratch);
            } else {
                self.mul(&acc, &one(k), &mut scratch);
            }
        } else {
            // e = 1: acc holds base·R; multiplying by plain 1 leaves Montgomery form.
            self.mul(&acc, &one(k), &mut scratch);
        }
        scratch.truncate(k);
        scratch
    }

    /// `out[..k] = a·b·R^-1 mod n`, fully reduced, for `a, b < n`; `out` has `k + 1` limbs.
    fn mul(&self, a: &[u32], b: &[u32], out: &mut [u32]) {
        let k = self.n.len();
        let n = &self.n[..k];
        let a = &a[..k];
        let t = &mut out[..=k];
        t.fill(0);
        let n0 = u64::from(n[0]);
        for &b_i in &b[..k] {
            let b_i = u64::from(b_i);
            // t += a·b_i and t += m·n, where m makes the low limb vanish; then t >>= 32.
            let x = u64::from(t[0]) + u64::from(a[0]) * b_i;
            let m = u64::from((x as u32).wrapping_mul(self.n0_inv));
            let y = u64::from(x as u32) + m * n0;
            let (mut carry_a, mut carry_n) = (x >> LIMB_BITS, y >> LIMB_BITS);
            for j in 1..k {
                // Each sum is at most (2^32 - 1) + (2^32 - 1)^2 + (2^32 - 1) = 2^64 - 1.
                let x = u64::from(t[j]) + u64::from(a[j]) * b_i + carry_a;
                carry_a = x >> LIMB_BITS;
                let y = u64::from(x as u32) + m * u64::from(n[j]) + carry_n;
                carry_n = y >> LIMB_BITS;
                t[j - 1] = y as u32;
            }
            let top = u64::from(t[k]) + carry_a + carry_n;
            t[k - 1] = top as u32;
            t[k] = (top >> LIMB_BITS) as u32;
        }
        // t < 2n here, so one conditional subtraction reduces it.
        if t[k] != 0 || !less_than(&t[..k], n) {
            sub_assign(&mut t[..k], n);
            t[k] = 0;
        }
    }

    /// `out[..k] = a²·R^-1 mod n`, fully reduced, for `a < n`; `out` has `k + 1` limbs and
    /// `wide` `2k + 1`. Separated operand scanning: the square first, each cross product
    /// `a_i·a_j` computed once and doubled, then a limb-by-limb reduction — about 1.5k² limb
    /// products against 2k² for `mul`, and 16 of the 18 products of e = 65537 are squares.
    fn square(&self, a: &[u32], out: &mut [u32], wide: &mut [u32]) {
        let k = self.n.len();
        let n = &self.n[..k];
        let a = &a[..k];
        let t = &mut wide[..=2 * k];
        t.fill(0);
        for i in 0..k {
            let a_i = u64::from(a[i]);
            let mut carry = 0u64;
            for j in (i + 1)..k {
                let x = u64::from(t[i + j]) + a_i * u64::from(a[j]) + carry;
                t[i + j] = x as u32;
                carry = x >> LIMB_BITS;
            }
            t[i + k] = carry as u32;
        }
        // The cross products sum to less than a²/2 < 2^(64k - 1): doubling cannot carry out.
        let mut shifted_out = 0u32;
        for limb in t[..2 * k].iter_mut() {
            let next = *limb >> (LIMB_BITS - 1);
            *limb = (*limb << 1) | shifted_out;
            shifted_out = next;
        }
        let mut carry = 0u64;
        for i in 0..k {
            let square = u64::from(a[i]) * u64::from(a[i]);
            let low = u64::from(t[2 * i]) + (square & 0xffff_ffff) + carry;
            t[2 * i] = low as u32;
            let high = u64::from(t[2 * i + 1]) + (square >> LIMB_BITS) + (low >> LIMB_BITS);
            t[2 * i + 1] = high as u32;
            carry = high >> LIMB_BITS;
        }
        for i in 0..k {
            let m = u64::from(t[i].wrapping_mul(self.n0_inv));
            let mut carry = 0u64;
            for j in 0..k {
                let x = u64::from(t[i + j]) + m * u64::from(n[j]) + carry;
                t[i + j] = x as u32;
                carry = x >> LIMB_BITS;
            }
            // a² + Σ m·n·2^(32i) < 2·R·n, so the carry never runs past limb 2k.
            for limb in t[i + k..].iter_mut() {
                if carry == 0 {
                    break;
                }
                let x = u64::from(*limb) + carry;
                *limb = x as u32;
                carry = x >> LIMB_BITS;
            }
        }
        let out = &mut out[..=k];
        out.copy_from_slice(&t[k..]);
        if out[k] != 0 || !less_than(&out[..k], n) {
            sub_assign(&mut out[..k], n);
            out[k] = 0;
        }
    }

    /// `R^2 mod n`: doublings give `2R mod n` (the Montgomery form of 2), then square-and-
    /// multiply raises 2 to `32k`, multiplying by 2 being one more doubling; the result is the
    /// Montgomery form of `R`, which is `R^2 mod n`.
    fn compute_r_squared(&self) -> Vec<u32> {
        let k = self.n.len();
        let bits = bit_length(&self.n);
        let mut x = vec![0u32; k + 1];
        // 2^(bits-1) < n because n is odd and above one.
        x[(bits - 1) / LIMB_BITS] = 1 << ((bits - 1) % LIMB_BITS);
        for _ in 0..(LIMB_BITS * k + 2 - bits) {
            double_mod(&mut x[..k], &self.n);
        }
        let exponent = LIMB_BITS * k;
        let top = usize::BITS - 1 - exponent.leading_zeros();
        let mut scratch = vec![0u32; k + 1];
        let mut wide = vec![0u32; 2 * k + 1];
        for bit in (0..top).rev() {
            self.square(&x, &mut scratch, &mut wide);
            std::mem::swap(&mut x, &mut scratch);
            if (exponent >> bit) & 1 == 1 {
                double_mod(&mut x[..k], &self.n);
            }
        }
        x.truncate(k);
        x
    }
}

impl std::fmt::Debug for Modulus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Modulus({} bits)", bit_length(&self.n))
    }
}

/// `-x^-1 mod 2^32` for odd `x`, by Newton's iteration: an odd `x` is its own inverse modulo 8,
/// and each step doubles the number of correct low bits (3, 6, 12, 24, 48).
fn neg_inverse(x: u32) -> u32 {
    let mut inverse = x;
    for _ in 0..4 {
        inverse = inverse.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inverse)));
    }
    inverse.wrapping_neg()
}

/// The number 1 in `k` limbs.
fn one(k: usize) -> Vec<u32> {
    let mut limbs = vec![0u32; k];
    limbs[0] = 1;
    limbs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_pow(base: u64, e: u64, n: u64) -> u64 {
        let (mut acc, mut b, mut e) = (1u128, u128::from(base), e);
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * b % u128::from(n);
            }
            b = b * b % u128::from(n);
            e >>= 1;
        }
        acc as u64
    }

    fn limbs(x: u64) -> Vec<u32> {
        vec![x as u32, (x >> 32) as u32]
    }

    #[test]
    fn negative_inverse_times_x_is_minus_one() {
        for x in [1u32, 3, 0xffff_ffff, 0x1234_5677, 65537] {
            assert_eq!(x.wrapping_mul(neg_inverse(x)), u32::MAX, "{x}");
        }
    }

    #[test]
    fn r_squared_matches_a_direct_computation() {
        for n in [
            0xffff_ffff_ffff_ffc5u64,
            0x8000_0000_0000_0001,
            0x1_0000_0001,
        ] {
            let modulus = Modulus::new(limbs(n)).unwrap();
            let r = (1u128 << 64) % u128::from(n);
            let expected = (r * r % u128::from(n)) as u64;
            assert_eq!(modulus.r_squared, limbs(expected), "{n:#x}");
        }
    }

    #[test]
    fn powers_match_a_naive_computation_on_two_limb_moduli() {
        let n = 0xd5a1_9c3b_0f7e_2d4bu64 | 1;
        let modulus = Modulus::new(limbs(n)).unwrap();
        for base in [0u64, 1, 2, n - 1, 0x1234_5678_9abc_def0 % n] {
            for e in [1u64, 2, 3, 17, 65537, (1 << 33) - 1] {
                let expected = limbs(naive_pow(base, e, n));
                assert_eq!(modulus.pow(&limbs(base), e), expected, "{base} ^ {e}");
                assert_eq!(
                    modulus.pow_reference(&limbs(base), e),
                    expected,
                    "{base} ^ {e}"
                );
            }
        }
    }

    #[test]
    fn squaring_matches_multiplying_a_number_by_itself() {
        let modulus =
            Modulus::new(vec![0xffff_ffff, 0x0000_0001, 0xffff_ffff, 0x8000_0001]).unwrap();
        let (mut by_mul, mut by_square) = (vec![0u32; 5], vec![0u32; 5]);
        let mut wide = vec![0u32; 9];
        for a in [
            [0u32; 4],
            [1, 0, 0, 0],
            [0xffff_fffe, 0x1, 0xffff_ffff, 0x8000_0001],
            [7; 4],
        ] {
            modulus.mul(&a, &a, &mut by_mul);
            modulus.square(&a, &mut by_square, &mut wide);
            assert_eq!(by_mul, by_square, "{a:x?}");
        }
    }

    #[test]
    fn refuses_even_zero_one_and_unnormalised_moduli() {
        assert!(Modulus::new(vec![4, 1]).is_none());
        assert!(Modulus::new(vec![1]).is_none());
        assert!(Modulus::new(vec![]).is_none());
        assert!(Modulus::new(vec![3, 0]).is_none());
    }
}
