//! 256-bit unsigned integers as eight little-endian 32-bit limbs: big-endian byte conversion,
//! comparison, and addition/subtraction with the carry or borrow out. No modulus lives here; the
//! field (`field`) and scalar (`scalar`) arithmetic build on these.
//!
//! 32-bit limbs with 64-bit products because wasm32 has a native 64-bit multiply but no 128-bit
//! one (a `u128` product becomes a call to `__multi3`). Variable-time: every input is public.

/// Limbs of a 256-bit number.
pub(super) const LIMBS: usize = 8;

/// A 256-bit number, least significant limb first.
pub(super) type U256 = [u32; LIMBS];

/// The number zero.
pub(super) const ZERO: U256 = [0; LIMBS];

/// Exactly 32 big-endian bytes as limbs.
pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> U256 {
    let mut out = ZERO;
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks_exact(4)) {
        *limb = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    out
}

/// The limbs as exactly 32 big-endian bytes.
#[cfg(test)]
pub(super) fn to_be_bytes(a: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, limb) in out.rchunks_exact_mut(4).zip(a) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// `a < b`.
pub(super) const fn less_than(a: &U256, b: &U256) -> bool {
    let mut i = LIMBS;
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// Whether `a` is zero.
pub(super) fn is_zero(a: &U256) -> bool {
    a.iter().all(|limb| *limb == 0)
}

/// `a + b mod 2^256` and whether it carried out.
pub(super) const fn add(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = ZERO;
    let mut carry = 0u64;
    let mut i = 0;
    while i < LIMBS {
        let sum = a[i] as u64 + b[i] as u64 + carry;
        out[i] = sum as u32;
        carry = sum >> 32;
        i += 1;
    }
    (out, carry != 0)
}

/// `a − b mod 2^256` and whether it borrowed.
pub(super) const fn sub(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = ZERO;
    let mut borrow = false;
    let mut i = 0;
    while i < LIMBS {
        let (d1, b1) = a[i].overflowing_sub(b[i]);
        let (d2, b2) = d1.overflowing_sub(borrow as u32);
        out[i] = d2;
        borrow = b1 || b2;
        i += 1;
    }
    (out, borrow)
}

/// `(a + carry·2^256) / 2`, rounding down: a right shift by one with `carry` as the new top bit.
pub(super) fn shr1(a: &U256, carry: bool) -> U256 {
    let mut out = ZERO;
    for i in 0..LIMBS {
        let above = if i + 1 < LIMBS {
            a[i + 1]
        } else {
            u32::from(carry)
        };
        out[i] = (a[i] >> 1) | (above << 31);
    }
    out
}

/// The 512-bit product `a·b`, least significant limb first (schoolbook, one row per limb of
/// `a`). Each step `t + x·y + carry` stays below 2^64 because (2^32 − 1)² + 2(2^32 − 1) = 2^64 − 1.
pub(super) fn mul_wide(a: &U256, b: &U256) -> [u32; 2 * LIMBS] {
    let mut t = [0u32; 2 * LIMBS];
    for (i, x) in a.iter().enumerate() {
        let x = u64::from(*x);
        let mut carry = 0u64;
        for (j, y) in b.iter().enumerate() {
            let v = u64::from(t[i + j]) + x * u64::from(*y) + carry;
            t[i + j] = v as u32;
            carry = v >> 32;
        }
        t[i + LIMBS] = carry as u32;
    }
    t
}

/// The 512-bit square `a²`: each cross product `a_i·a_j` (i < j) once, doubled by a shift, then
/// the squares `a_i²` on the diagonal — 36 limb products instead of 64.
pub(super) fn square_wide(a: &U256) -> [u32; 2 * LIMBS] {
    let mut t = [0u32; 2 * LIMBS];
    for i in 0..LIMBS {
        let x = u64::from(a[i]);
        let mut carry = 0u64;
        for j in i + 1..LIMBS {
            let v = u64::from(t[i + j]) + x * u64::from(a[j]) + carry;
            t[i + j] = v as u32;
            carry = v >> 32;
        }
        t[i + LIMBS] = carry as u32;
    }
    // The cross sum is below 2^511, so doubling it loses no bit.
    let mut high = 0u32;
    for limb in t.iter_mut() {
        let next = *limb >> 31;
        *limb = (*limb << 1) | high;
        high = next;
    }
    let mut carry = 0u64;
    for i in 0..LIMBS {
        let square = u64::from(a[i]) * u64::from(a[i]);
        let low = u64::from(t[2 * i]) + (square & 0xffff_ffff) + carry;
        t[2 * i] = low as u32;
        let high = u64::from(t[2 * i + 1]) + (square >> 32) + (low >> 32);
        t[2 * i + 1] = high as u32;
        carry = high >> 32;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(seed: u32) -> U256 {
        let mut state = seed.wrapping_mul(0x9e37_79b9) | 1;
        core::array::from_fn(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        })
    }

    #[test]
    fn bytes_round_trip_big_endian() {
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        bytes[0] = 0x80;
        let limbs = from_be_bytes(&bytes);
        assert_eq!(limbs[0], 1);
        assert_eq!(limbs[7], 0x8000_0000);
        assert_eq!(to_be_bytes(&limbs), bytes);
    }

    #[test]
    fn add_and_sub_carry_across_every_limb() {
        let max = [u32::MAX; LIMBS];
        let one = [1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(add(&max, &one), (ZERO, true));
        assert_eq!(sub(&ZERO, &one), (max, true));
        assert_eq!(sub(&max, &max), (ZERO, false));
        assert!(less_than(&one, &max) && !less_than(&max, &one) && !less_than(&one, &one));
    }

    #[test]
    fn halving_shifts_in_the_carry() {
        let two = [2, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(shr1(&two, false), [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            shr1(&[1, 1, 0, 0, 0, 0, 0, 0], true),
            [0x8000_0000, 0, 0, 0, 0, 0, 0, 0x8000_0000]
        );
    }

    #[test]
    fn squaring_matches_multiplication() {
        let max = [u32::MAX; LIMBS];
        assert_eq!(square_wide(&max), mul_wide(&max, &max));
        for seed in 0..64 {
            let a = pseudo_random(seed);
            assert_eq!(square_wide(&a), mul_wide(&a, &a), "seed {seed}");
        }
    }

    #[test]
    fn product_of_all_ones_is_known() {
        // (2^256 − 1)² = 2^512 − 2^257 + 1.
        let max = [u32::MAX; LIMBS];
        let mut expected = [0u32; 2 * LIMBS];
        expected[0] = 1;
        expected[LIMBS] = 0xffff_fffe;
        for limb in &mut expected[LIMBS + 1..] {
            *limb = u32::MAX;
        }
        assert_eq!(mul_wide(&max, &max), expected);
    }
}
