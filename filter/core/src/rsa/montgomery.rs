//! Arithmetic modulo one odd RSA modulus in Montgomery form: the per-key constants (computed once
//! when the key is parsed) and the public-exponent power `s^e mod n` that every verification
//! needs. It does not know about byte encodings, hashes or padding.
//!
//! Multiplication is CIOS Montgomery (Koç, Acar, Kaliski, "Analyzing and Comparing Montgomery
//! Multiplication Algorithms", IEEE Micro 1996) with the multiply and reduce passes fused, on
//! 32-bit limbs with 64-bit intermediate products. Public inputs only: branches and loop counts
//! depend on the values on purpose.

use super::bignum::{bit_length, double_mod, less_than, sub_assign, LIMB_BITS};

/// An odd modulus `n` of `k` limbs with `R = 2^(32k)` and the constants Montgomery needs.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Modulus {
    /// `n`, little-endian limbs, the top one non-zero.
    n: Vec<u32>,
    /// `-n^-1 mod 2^32`.
    n0_inv: u32,
    /// `R^2 mod n`, which takes a number into Montgomery form with one multiplication.
    r_squared: Vec<u32>,
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
            n,
        };
        modulus.r_squared = modulus.compute_r_squared();
        Some(modulus)
    }

    /// The modulus limbs.
    pub(super) fn limbs(&self) -> &[u32] {
        &self.n
    }

    /// `base^e mod n` for `base < n` of the modulus' limb count and `e ≥ 1`.
    ///
    /// Left-to-right square-and-multiply in Montgomery form. The last step multiplies by the
    /// plain `base` (or by 1 for an even `e`), which also leaves Montgomery form: for e = 65537
    /// this is 1 conversion, 16 squarings and 1 multiplication.
    pub(super) fn pow(&self, base: &[u32], e: u64) -> Vec<u32> {
        let k = self.n.len();
        let mut base_mont = vec![0u32; k + 1];
        self.mul(base, &self.r_squared, &mut base_mont);
        let mut acc = base_mont.clone();
        let mut scratch = vec![0u32; k + 1];
        let top = u64::BITS - 1 - e.max(1).leading_zeros();
        for bit in (1..top).rev() {
            self.mul(&acc, &acc, &mut scratch);
            std::mem::swap(&mut acc, &mut scratch);
            if (e >> bit) & 1 == 1 {
                self.mul(&acc, &base_mont, &mut scratch);
                std::mem::swap(&mut acc, &mut scratch);
            }
        }
        if top > 0 {
            self.mul(&acc, &acc, &mut scratch);
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
        for bit in (0..top).rev() {
            self.mul(&x, &x, &mut scratch);
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
                assert_eq!(
                    modulus.pow(&limbs(base), e),
                    limbs(naive_pow(base, e, n)),
                    "{base} ^ {e}"
                );
            }
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
