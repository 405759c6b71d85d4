//! Arithmetic modulo the order of the P-256 base point,
//! n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551 (FIPS 186-4 §D.1.2.3):
//! parsing `r`, `s` and the hash, and the two products `e·s⁻¹` and `r·s⁻¹` of SEC 1 v2 §4.1.4
//! step 5. Only a handful of operations run per verification, so this is plain Montgomery
//! multiplication (CIOS: Koç, Acar, Kaliski, IEEE Micro 1996) with R = 2^256, on 32-bit limbs.

use super::u256::{self, LIMBS, U256, ZERO};

/// n, least significant limb first.
pub(super) const N: U256 = [
    0xfc63_2551,
    0xf3b9_cac2,
    0xa717_9e84,
    0xbce6_faad,
    0xffff_ffff,
    0xffff_ffff,
    0x0000_0000,
    0xffff_ffff,
];

/// `−n⁻¹ mod 2^32`, by Newton's iteration `x ← x·(2 − n₀·x)`, which doubles the correct low
/// bits each step (n₀ is its own inverse mod 8, so three bits are right from the start).
const N0_INV: u32 = {
    let n0 = N[0];
    let mut x = n0;
    let mut i = 0;
    while i < 4 {
        x = x.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(x)));
        i += 1;
    }
    x.wrapping_neg()
};

/// `R² mod n`, which takes a number into Montgomery form: R mod n = 2^256 − n, doubled 256 times.
const R_SQUARED: U256 = {
    let mut x = u256::sub(&ZERO, &N).0;
    let mut i = 0;
    while i < 256 {
        let (doubled, carry) = u256::add(&x, &x);
        x = if carry || !u256::less_than(&doubled, &N) {
            u256::sub(&doubled, &N).0
        } else {
            doubled
        };
        i += 1;
    }
    x
};

/// A scalar in `[1, n − 1]`, as the signature's `r` and `s` must be (SEC 1 v2 §4.1.4 step 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Scalar(U256);

impl Scalar {
    /// The scalar with these 32 big-endian bytes, or `None` if they encode 0 or a number ≥ n.
    pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> Option<Scalar> {
        let a = u256::from_be_bytes(bytes);
        (!u256::is_zero(&a) && u256::less_than(&a, &N)).then_some(Scalar(a))
    }

    /// A 256-bit hash as an integer mod n (SEC 1 v2 §4.1.4 steps 3–4: the hash is exactly as
    /// long as n, so it is taken whole). It may be zero.
    pub(super) fn reduce_hash(digest: &[u8; 32]) -> U256 {
        let e = u256::from_be_bytes(digest);
        // e < 2^256 < 2n: at most one subtraction.
        if u256::less_than(&e, &N) {
            e
        } else {
            u256::sub(&e, &N).0
        }
    }

    pub(super) fn limbs(&self) -> &U256 {
        &self.0
    }

    /// `(a·s⁻¹ mod n, b·s⁻¹ mod n)` for `a, b < n`: one inversion shared by both products.
    pub(super) fn divide_both(a: &U256, b: &U256, s: &Scalar) -> (U256, U256) {
        let inverse = invert(&s.0);
        // mont(a, w) = a·w·R⁻¹, and a second product with R² puts back the R: a·w mod n.
        let product = |x: &U256| mont_mul(&mont_mul(x, &inverse), &R_SQUARED);
        (product(a), product(b))
    }
}

const ONE: U256 = [1, 0, 0, 0, 0, 0, 0, 0];

/// `a⁻¹ mod n` for `0 < a < n`, by the binary inversion algorithm (Hankerson, Menezes, Vanstone,
/// "Guide to Elliptic Curve Cryptography", Algorithm 2.22): it keeps `x1·a ≡ u` and `x2·a ≡ v`
/// (mod n) while halving and subtracting `u` and `v`, starting from `u = a`, `v = n`, until one
/// of them is 1. It terminates because gcd(a, n) = 1 (n is prime); shifts and subtractions only,
/// several times cheaper here than Fermat's `a^(n−2)`.
fn invert(a: &U256) -> U256 {
    let (mut u, mut v) = (*a, N);
    let (mut x1, mut x2) = (ONE, ZERO);
    // The zero checks only guard the halving loops against a caller passing 0.
    while u != ONE && v != ONE && !u256::is_zero(&u) && !u256::is_zero(&v) {
        while u[0] & 1 == 0 {
            u = u256::shr1(&u, false);
            x1 = half_mod_n(&x1);
        }
        while v[0] & 1 == 0 {
            v = u256::shr1(&v, false);
            x2 = half_mod_n(&x2);
        }
        if u256::less_than(&u, &v) {
            v = u256::sub(&v, &u).0;
            x2 = sub_mod_n(&x2, &x1);
        } else {
            u = u256::sub(&u, &v).0;
            x1 = sub_mod_n(&x1, &x2);
        }
    }
    if u == ONE {
        x1
    } else {
        x2
    }
}

/// `x/2 mod n` for `x < n`: `x/2` when even, `(x + n)/2` when odd (n is odd, so the sum is even;
/// its 257th bit comes back in through the shift).
fn half_mod_n(x: &U256) -> U256 {
    if x[0] & 1 == 0 {
        u256::shr1(x, false)
    } else {
        let (sum, carry) = u256::add(x, &N);
        u256::shr1(&sum, carry)
    }
}

/// `x − y mod n` for `x, y < n`.
fn sub_mod_n(x: &U256, y: &U256) -> U256 {
    match u256::sub(x, y) {
        (difference, true) => u256::add(&difference, &N).0,
        (difference, false) => difference,
    }
}

/// `a·b·R⁻¹ mod n` for `a, b < n`, CIOS with the multiply and reduce passes fused. The running
/// value `t` stays below 2n, held in eight limbs plus a carry limb.
fn mont_mul(a: &U256, b: &U256) -> U256 {
    let mut t = [0u32; LIMBS + 2];
    for x in a {
        let x = u64::from(*x);
        let mut carry = 0u64;
        for j in 0..LIMBS {
            let v = u64::from(t[j]) + x * u64::from(b[j]) + carry;
            t[j] = v as u32;
            carry = v >> 32;
        }
        let v = u64::from(t[LIMBS]) + carry;
        t[LIMBS] = v as u32;
        t[LIMBS + 1] = (v >> 32) as u32;

        // Add q·n with q chosen so the low limb becomes zero, then shift down one limb.
        let q = u64::from(t[0].wrapping_mul(N0_INV));
        let mut carry = (u64::from(t[0]) + q * u64::from(N[0])) >> 32;
        for j in 1..LIMBS {
            let v = u64::from(t[j]) + q * u64::from(N[j]) + carry;
            t[j - 1] = v as u32;
            carry = v >> 32;
        }
        let v = u64::from(t[LIMBS]) + carry;
        t[LIMBS - 1] = v as u32;
        t[LIMBS] = t[LIMBS + 1] + (v >> 32) as u32;
    }
    let mut out = ZERO;
    out.copy_from_slice(&t[..LIMBS]);
    if t[LIMBS] != 0 || !u256::less_than(&out, &N) {
        out = u256::sub(&out, &N).0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n_minus(k: u32) -> U256 {
        u256::sub(&N, &[k, 0, 0, 0, 0, 0, 0, 0]).0
    }

    /// `a·b mod n` through Montgomery form and back.
    fn mul_mod(a: &U256, b: &U256) -> U256 {
        mont_mul(&mont_mul(a, &R_SQUARED), b)
    }

    #[test]
    fn montgomery_constants_are_consistent() {
        assert_eq!(
            N[0].wrapping_mul(N0_INV),
            u32::MAX,
            "n·(−n⁻¹) ≡ −1 mod 2^32"
        );
        // R² · R⁻¹ · 1 = R mod n = 2^256 − n.
        assert_eq!(mont_mul(&R_SQUARED, &ONE), u256::sub(&ZERO, &N).0);
    }

    #[test]
    fn accepts_exactly_one_through_n_minus_one() {
        let parse = |limbs: &U256| Scalar::from_be_bytes(&u256::to_be_bytes(limbs));
        assert!(parse(&ZERO).is_none());
        assert!(parse(&N).is_none());
        assert!(parse(&[u32::MAX; 8]).is_none());
        assert_eq!(parse(&ONE), Some(Scalar(ONE)));
        assert_eq!(parse(&n_minus(1)), Some(Scalar(n_minus(1))));
    }

    #[test]
    fn hashes_at_or_above_n_wrap() {
        assert_eq!(Scalar::reduce_hash(&u256::to_be_bytes(&N)), ZERO);
        assert_eq!(
            Scalar::reduce_hash(&u256::to_be_bytes(&n_minus(1))),
            n_minus(1)
        );
        let top = u256::sub(&ZERO, &N).0; // 2^256 − 1 − (n − 1)
        assert_eq!(Scalar::reduce_hash(&[0xff; 32]), u256::sub(&top, &ONE).0);
    }

    #[test]
    fn products_near_n_are_known() {
        // (n − 1)² = 1 and (n − 1)·(n − 2) = 2 mod n.
        assert_eq!(mul_mod(&n_minus(1), &n_minus(1)), ONE);
        assert_eq!(mul_mod(&n_minus(1), &n_minus(2)), [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(mul_mod(&n_minus(1), &ZERO), ZERO);
        assert_eq!(mul_mod(&ONE, &n_minus(1)), n_minus(1));
    }

    #[test]
    fn inverses_multiply_to_one() {
        let mut values = vec![ONE, [2, 0, 0, 0, 0, 0, 0, 0], n_minus(1), n_minus(2)];
        let mut state = 0x9e37_79b9u32;
        for _ in 0..64 {
            let x: U256 = core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state
            });
            values.push(Scalar::reduce_hash(&u256::to_be_bytes(&x)));
        }
        for a in values.into_iter().filter(|a| !u256::is_zero(a)) {
            assert_eq!(mul_mod(&a, &invert(&a)), ONE, "{a:x?}");
        }
        // (n − 1)⁻¹ = n − 1 and 2⁻¹ = (n + 1)/2.
        assert_eq!(invert(&n_minus(1)), n_minus(1));
        assert_eq!(invert(&[2, 0, 0, 0, 0, 0, 0, 0]), half_mod_n(&ONE));
    }

    #[test]
    fn division_by_s_undoes_multiplication() {
        let values = [
            ONE,
            [2, 0, 0, 0, 0, 0, 0, 0],
            n_minus(1),
            n_minus(2),
            [0x0123_4567; 8],
        ];
        for s in values {
            let s = Scalar(s);
            // (s·a)/s = a and s/s = 1.
            for a in values {
                let product = mul_mod(&s.0, &a);
                let (quotient, one) = Scalar::divide_both(&product, &s.0, &s);
                assert_eq!(quotient, a);
                assert_eq!(one, ONE);
            }
        }
    }
}
