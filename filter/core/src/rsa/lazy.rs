//! Montgomery exponentiation on 28-bit limbs with deferred carries, for moduli of up to
//! `MAX_LIMBS` limbs (3358 bits: every RSA-2048 and RSA-3072 key). Larger moduli use the 32-bit
//! operand-scanning code in `montgomery`, which is also the reference this module is tested
//! against. It does not know about byte encodings, hashes or padding.
//!
//! Why 28 bits: a limb product is below 2^56, so 256 of them add up in a `u64` without a carry.
//! Product scanning (Koç, Acar, Kaliski 1996, "FIPS") then sums each output column in one
//! accumulator — a load, a multiply and an add per product, and no carry chain — and moves the
//! carry once per column. wasm32 has a 64-bit multiply but no 128-bit product or add-with-carry,
//! so this is fewer instructions per product than 32-bit limbs, even with 1.16× more limbs.
//!
//! Values are kept below `2n` rather than `n` ("almost Montgomery"): with `R = 2^(28k) ≥ 4n`, a
//! product of two numbers below `2n` reduces to below `2n` again, so no conditional subtraction
//! is needed between the squarings; `pow` reduces once at the end. Public inputs only.
//!
//! Limbs are stored in `u32`s (half the memory traffic of `u64`s, and the layout wasm SIMD
//! multiplies from); the column sums themselves are `dot`'s.

use super::bignum::double_mod;
use super::dot::{Fastest, Kernel};

/// Bits per limb.
const LIMB_BITS: u32 = 28;
const MASK: u64 = (1 << LIMB_BITS) - 1;

/// Most limbs handled. A column sums at most `2k + 1` products below 2^56 plus a carry below
/// 2^36, which stays below 2^64 for `k ≤ 127`; 120 leaves a margin.
pub(super) const MAX_LIMBS: usize = 120;

/// An odd modulus of `k` 28-bit limbs with `R = 2^(28k) ≥ 4n` and its Montgomery constants.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Lazy {
    /// `n`, little-endian 28-bit limbs.
    n: Vec<u32>,
    /// `n` with its limbs in reverse order, so each column reads it forwards.
    n_rev: Vec<u32>,
    /// `-n^-1 mod 2^28`.
    n0_inv: u64,
    /// `R^2 mod n`, fully reduced.
    r_squared: Vec<u32>,
}

/// Buffers for one exponentiation, allocated once.
struct Scratch {
    /// The Montgomery quotient digits of the current product.
    m: Vec<u32>,
    /// The second factor (or the square's only one) reversed.
    rev: Vec<u32>,
}

impl Lazy {
    /// The constants for `n` (32-bit limbs, odd, top limb non-zero), given `-n^-1 mod 2^32` and
    /// `R32^2 mod n` with `R32 = 2^(32·n.len())`. `None` when `n` is too large for this module.
    pub(super) fn new(n: &[u32], n0_inv32: u32, r32_squared: &[u32]) -> Option<Lazy> {
        let k32 = n.len();
        let bits = super::bignum::bit_length(n);
        // R ≥ 4n, and R^2 = R32^2 · 2^d with d ≥ 0, so R^2 mod n is d doublings away.
        let k = (bits + 2)
            .div_ceil(LIMB_BITS as usize)
            .max((64 * k32).div_ceil(2 * LIMB_BITS as usize));
        if k > MAX_LIMBS || bits < 2 {
            return None;
        }
        let mut r_squared = r32_squared.to_vec();
        for _ in 0..(2 * LIMB_BITS as usize * k - 64 * k32) {
            double_mod(&mut r_squared, n);
        }
        let n28 = to_limbs28(n, k);
        let mut n_rev = n28.clone();
        n_rev.reverse();
        Some(Lazy {
            n_rev,
            n: n28,
            n0_inv: u64::from(n0_inv32) & MASK,
            r_squared: to_limbs28(&r_squared, k),
        })
    }

    /// `base^e mod n` for `base < n` (32-bit limbs, as many as the modulus has), `e ≥ 1`.
    /// Left-to-right square-and-multiply, as in `montgomery::Modulus::pow`: one multiplication
    /// into Montgomery form, then for e = 65537 16 squarings and one multiplication by the plain
    /// base, which also leaves Montgomery form.
    pub(super) fn pow(&self, base: &[u32], e: u64) -> Vec<u32> {
        self.pow_with::<Fastest>(base, e)
    }

    /// `pow` with the column sums of kernel `K`.
    fn pow_with<K: Kernel>(&self, base: &[u32], e: u64) -> Vec<u32> {
        let k = self.n.len();
        let plain = to_limbs28(base, k);
        let mut scratch = Scratch {
            m: vec![0; k],
            rev: vec![0; k],
        };
        let mut base_mont = vec![0; k];
        self.mul::<K>(&plain, &self.r_squared, &mut base_mont, &mut scratch);
        let mut acc = base_mont.clone();
        let mut tmp = vec![0; k];
        let top = u64::BITS - 1 - e.max(1).leading_zeros();
        for bit in (1..top).rev() {
            self.square::<K>(&acc, &mut tmp, &mut scratch);
            std::mem::swap(&mut acc, &mut tmp);
            if (e >> bit) & 1 == 1 {
                self.mul::<K>(&acc, &base_mont, &mut tmp, &mut scratch);
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        let mut one = vec![0; k];
        one[0] = 1;
        if top > 0 {
            self.square::<K>(&acc, &mut tmp, &mut scratch);
            std::mem::swap(&mut acc, &mut tmp);
            let last = if e & 1 == 1 { &plain } else { &one };
            self.mul::<K>(&acc, last, &mut tmp, &mut scratch);
        } else {
            // e = 1: acc holds base·R; multiplying by plain 1 leaves Montgomery form.
            self.mul::<K>(&acc, &one, &mut tmp, &mut scratch);
        }
        self.reduce(&mut tmp);
        to_limbs32(&tmp, base.len())
    }

    /// `out = a·b·R^-1 mod n`, below `2n`, for `a, b < 2n`.
    fn mul<K: Kernel>(&self, a: &[u32], b: &[u32], out: &mut [u32], scratch: &mut Scratch) {
        let k = self.n.len();
        let (a, out) = (&a[..k], &mut out[..k]);
        let (m, rev) = (&mut scratch.m[..k], &mut scratch.rev[..k]);
        for (r, x) in rev.iter_mut().zip(b[..k].iter().rev()) {
            *r = *x;
        }
        let n_rev = &self.n_rev[..k];
        let (n0, b0) = (u64::from(n_rev[k - 1]), u64::from(rev[k - 1]));
        let mut acc = 0u64;
        // Column i of a·b + m·n: Σ a_j·b_(i−j) + Σ m_j·n_(i−j); b and n are read reversed.
        for i in 0..k {
            let start = k - 1 - i;
            acc += K::dot2(&a[..i], &rev[start..], &m[..i], &n_rev[start..]);
            acc += u64::from(a[i]) * b0;
            // m_i makes column i vanish modulo 2^28.
            let m_i = ((acc & MASK) * self.n0_inv) & MASK;
            m[i] = m_i as u32;
            acc += m_i * n0;
            acc >>= LIMB_BITS;
        }
        for i in k..2 * k - 1 {
            let low = i + 1 - k;
            acc += K::dot2(&a[low..], rev, &m[low..], n_rev);
            out[i - k] = (acc & MASK) as u32;
            acc >>= LIMB_BITS;
        }
        // The result is below 2n < R, so what is left fits the top limb (below 2^28).
        out[k - 1] = acc as u32;
    }

    /// `out = a²·R^-1 mod n`, below `2n`, for `a < 2n`: the same columns as `mul`, with each
    /// cross product `a_j·a_(i−j)` summed once and doubled.
    fn square<K: Kernel>(&self, a: &[u32], out: &mut [u32], scratch: &mut Scratch) {
        let k = self.n.len();
        let (a, out) = (&a[..k], &mut out[..k]);
        let (m, rev) = (&mut scratch.m[..k], &mut scratch.rev[..k]);
        for (r, x) in rev.iter_mut().zip(a.iter().rev()) {
            *r = *x;
        }
        let n_rev = &self.n_rev[..k];
        let n0 = u64::from(n_rev[k - 1]);
        let mut acc = 0u64;
        for i in 0..2 * k - 1 {
            let low = i.saturating_sub(k - 1);
            let half = i.div_ceil(2);
            // j in low..half pairs with i − j > j; rev[k − 1 − i + j] is a_(i−j).
            let start = k - 1 + low - i;
            if half > low {
                acc += 2 * K::dot(&a[low..half], &rev[start..]);
            }
            if i % 2 == 0 {
                acc += u64::from(a[i / 2]) * u64::from(a[i / 2]);
            }
            if i < k {
                acc += K::dot(&m[..i], &n_rev[k - 1 - i..]);
                let m_i = ((acc & MASK) * self.n0_inv) & MASK;
                m[i] = m_i as u32;
                acc += m_i * n0;
                acc >>= LIMB_BITS;
            } else {
                acc += K::dot(&m[low..], n_rev);
                out[i - k] = (acc & MASK) as u32;
                acc >>= LIMB_BITS;
            }
        }
        out[k - 1] = acc as u32;
    }

    /// `x mod n` for `x < 2n`.
    fn reduce(&self, x: &mut [u32]) {
        let below = x
            .iter()
            .zip(&self.n)
            .rev()
            .find(|(a, b)| a != b)
            .is_some_and(|(a, b)| a < b);
        if below {
            return;
        }
        let mut borrow = 0u32;
        for (limb, n) in x.iter_mut().zip(&self.n) {
            let d = (*limb | (1 << LIMB_BITS)) - n - borrow;
            *limb = d & MASK as u32;
            borrow = 1 - (d >> LIMB_BITS);
        }
    }
}

/// 32-bit limbs as exactly `k` 28-bit limbs (the value must fit).
fn to_limbs28(x: &[u32], k: usize) -> Vec<u32> {
    let mut out = vec![0u32; k];
    let (mut buffer, mut filled, mut next) = (0u64, 0u32, 0usize);
    for limb in x {
        buffer |= u64::from(*limb) << filled;
        filled += 32;
        while filled >= LIMB_BITS {
            if let Some(slot) = out.get_mut(next) {
                *slot = (buffer & MASK) as u32;
            }
            next += 1;
            buffer >>= LIMB_BITS;
            filled -= LIMB_BITS;
        }
    }
    if let Some(slot) = out.get_mut(next) {
        *slot = buffer as u32;
    }
    out
}

/// 28-bit limbs (each below 2^28) as exactly `k32` 32-bit limbs (the value must fit).
fn to_limbs32(x: &[u32], k32: usize) -> Vec<u32> {
    let mut out = vec![0u32; k32];
    let (mut buffer, mut filled, mut next) = (0u64, 0u32, 0usize);
    for limb in x {
        buffer |= u64::from(*limb) << filled;
        filled += LIMB_BITS;
        while filled >= 32 {
            if let Some(slot) = out.get_mut(next) {
                *slot = buffer as u32;
            }
            next += 1;
            buffer >>= 32;
            filled -= 32;
        }
    }
    if let Some(slot) = out.get_mut(next) {
        *slot = buffer as u32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::dot::{Emulated, Lanes, Scalar};
    use super::super::montgomery::Modulus;
    use super::*;

    const MASK32: u32 = MASK as u32;

    /// xorshift64*: deterministic test numbers, no dependency.
    struct Numbers(u64);

    impl Numbers {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
        }

        /// An odd modulus of exactly `bits` bits.
        fn modulus(&mut self, bits: usize) -> Vec<u32> {
            let k = bits.div_ceil(32);
            let mut n: Vec<u32> = (0..k).map(|_| self.next()).collect();
            let top_bits = bits - 32 * (k - 1);
            n[k - 1] &= u32::MAX >> (32 - top_bits);
            n[k - 1] |= 1 << (top_bits - 1);
            n[0] |= 1;
            n
        }

        /// A number below `n`.
        fn below(&mut self, n: &[u32]) -> Vec<u32> {
            let mut x: Vec<u32> = n.iter().map(|_| self.next()).collect();
            let top = n.len() - 1;
            x[top] %= n[top].max(1);
            x
        }
    }

    fn lazy(modulus: &Modulus) -> Lazy {
        modulus.lazy().cloned().unwrap()
    }

    fn from_u32(x: &[u32], lazy: &Lazy) -> Vec<u32> {
        to_limbs28(x, lazy.n.len())
    }

    #[test]
    fn limbs_convert_both_ways() {
        let mut numbers = Numbers(7);
        for len in [1usize, 2, 7, 64, 96] {
            let x: Vec<u32> = (0..len).map(|_| numbers.next()).collect();
            let k = (32 * len).div_ceil(28);
            let narrow = to_limbs28(&x, k);
            assert!(narrow.iter().all(|l| *l <= MASK32));
            assert_eq!(to_limbs32(&narrow, len), x);
        }
    }

    #[test]
    fn powers_match_the_32_bit_reference_for_many_moduli() {
        let mut numbers = Numbers(0x5eed);
        for bits in [64, 65, 255, 512, 1023, 1024, 2047, 2048, 2049, 3072, 3358] {
            let modulus = Modulus::new(numbers.modulus(bits)).unwrap();
            let lazy = lazy(&modulus);
            for e in [1u64, 2, 3, 65537, (1 << 33) - 1] {
                for _ in 0..3 {
                    let base = numbers.below(modulus.limbs());
                    let want = modulus.pow_reference(&base, e);
                    assert_eq!(lazy.pow(&base, e), want, "{bits} bits, e = {e}");
                    // Both kernels, whichever `pow` uses in this build.
                    assert_eq!(lazy.pow_with::<Scalar>(&base, e), want, "{bits} bits");
                    let lanes = lazy.pow_with::<Lanes<Emulated>>(&base, e);
                    assert_eq!(lanes, want, "{bits} bits, e = {e}, lanes");
                }
            }
        }
    }

    #[test]
    fn edge_bases_match_the_reference() {
        let mut numbers = Numbers(99);
        for bits in [512, 2048] {
            let n = numbers.modulus(bits);
            let modulus = Modulus::new(n.clone()).unwrap();
            let lazy = lazy(&modulus);
            let mut n_minus_1 = n.clone();
            n_minus_1[0] -= 1;
            let mut one = vec![0; n.len()];
            one[0] = 1;
            for base in [vec![0; n.len()], one, n_minus_1] {
                let want = modulus.pow_reference(&base, 65537);
                assert_eq!(lazy.pow(&base, 65537), want);
                assert_eq!(lazy.pow_with::<Lanes<Emulated>>(&base, 65537), want);
            }
        }
    }

    #[test]
    fn squaring_equals_multiplying_by_itself_up_to_twice_the_modulus() {
        let mut numbers = Numbers(3);
        for bits in [64, 2048, 3358] {
            let n = numbers.modulus(bits);
            let modulus = Modulus::new(n.clone()).unwrap();
            let lazy = lazy(&modulus);
            let k = lazy.n.len();
            let mut scratch = Scratch {
                m: vec![0; k],
                rev: vec![0; k],
            };
            // 2n − 1, the largest value the lazy representation holds.
            let mut twice_minus_1 = vec![0u32; k];
            let mut carry = 0;
            for (t, limb) in twice_minus_1.iter_mut().zip(&lazy.n) {
                let v = 2 * limb + carry;
                *t = v & MASK32;
                carry = v >> LIMB_BITS;
            }
            twice_minus_1[0] -= 1;
            let mut n_minus_1 = lazy.n.clone();
            n_minus_1[0] -= 1;
            let random = from_u32(&numbers.below(&n), &lazy);
            for a in [vec![0; k], n_minus_1, twice_minus_1, lazy.n.clone(), random] {
                let (mut by_mul, mut by_square) = (vec![0; k], vec![0; k]);
                lazy.mul::<Scalar>(&a, &a, &mut by_mul, &mut scratch);
                lazy.square::<Scalar>(&a, &mut by_square, &mut scratch);
                assert_eq!(by_mul, by_square, "{bits} bits");
                let (mut lanes_mul, mut lanes_square) = (vec![0; k], vec![0; k]);
                lazy.mul::<Lanes<Emulated>>(&a, &a, &mut lanes_mul, &mut scratch);
                lazy.square::<Lanes<Emulated>>(&a, &mut lanes_square, &mut scratch);
                assert_eq!((&lanes_mul, &lanes_square), (&by_mul, &by_square));
                assert!(by_square.iter().all(|l| *l <= MASK32));
                // Below 2n: subtracting n once leaves a value below n.
                lazy.reduce(&mut by_square);
                let mut again = by_square.clone();
                lazy.reduce(&mut again);
                assert_eq!(again, by_square);
            }
        }
    }

    #[test]
    fn moduli_above_the_limb_bound_are_left_to_the_reference() {
        let mut numbers = Numbers(5);
        let big = Modulus::new(numbers.modulus(28 * MAX_LIMBS)).unwrap();
        assert!(big.lazy().is_none());
        let fits = Modulus::new(numbers.modulus(28 * MAX_LIMBS - 2)).unwrap();
        assert!(fits.lazy().is_some());
    }
}
