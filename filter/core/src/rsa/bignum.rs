//! Unsigned integers as little-endian vectors of 32-bit limbs: conversion from and to big-endian
//! bytes, comparison, subtraction and doubling modulo an odd modulus. It knows nothing about
//! Montgomery form or signature encodings.
//!
//! 32-bit limbs with 64-bit products because wasm32 has a native 64-bit multiply but no 128-bit
//! one. Variable-time by design: every number handled here is public (see the parent module).

/// Bits per limb.
pub(super) const LIMB_BITS: usize = 32;

/// Big-endian bytes as exactly `limbs` limbs, or `None` if the value needs more.
pub(super) fn from_be_bytes(bytes: &[u8], limbs: usize) -> Option<Vec<u32>> {
    let significant = strip_leading_zeros(bytes);
    if significant.len() > limbs * 4 {
        return None;
    }
    let mut out = vec![0u32; limbs];
    for (i, byte) in significant.iter().rev().enumerate() {
        out[i / 4] |= u32::from(*byte) << (8 * (i % 4));
    }
    Some(out)
}

/// The low `len` bytes of `limbs`, big-endian, and whether every higher byte was zero.
pub(super) fn to_be_bytes(limbs: &[u32], len: usize) -> (Vec<u8>, bool) {
    let mut out = vec![0u8; len];
    let mut fits = true;
    for (i, limb) in limbs.iter().enumerate() {
        for (j, byte) in limb.to_le_bytes().into_iter().enumerate() {
            let position = 4 * i + j;
            if position < len {
                out[len - 1 - position] = byte;
            } else if byte != 0 {
                fits = false;
            }
        }
    }
    (out, fits)
}

/// `bytes` without its leading zero bytes.
pub(super) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Number of significant bits.
pub(super) fn bit_length(limbs: &[u32]) -> usize {
    match limbs.iter().rposition(|l| *l != 0) {
        Some(top) => top * LIMB_BITS + (LIMB_BITS - limbs[top].leading_zeros() as usize),
        None => 0,
    }
}

/// `a < b` for numbers of the same limb count.
pub(super) fn less_than(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().zip(b).rev() {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` modulo 2^(32·len), for numbers of the same limb count.
pub(super) fn sub_assign(a: &mut [u32], b: &[u32]) {
    let mut borrow = false;
    for (x, y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(*y);
        let (d2, b2) = d1.overflowing_sub(u32::from(borrow));
        *x = d2;
        borrow = b1 || b2;
    }
}

/// `x = 2x mod n`, for `x < n`.
pub(super) fn double_mod(x: &mut [u32], n: &[u32]) {
    let mut carry = 0u32;
    for limb in x.iter_mut() {
        let next = *limb >> (LIMB_BITS - 1);
        *limb = (*limb << 1) | carry;
        carry = next;
    }
    // With a carry out the true value is 2^(32·len) + x ≥ n; the subtraction's borrow cancels it.
    if carry != 0 || !less_than(x, n) {
        sub_assign(x, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_through_limbs() {
        let bytes = [0x01, 0x02, 0x03, 0x04, 0x05];
        let limbs = from_be_bytes(&bytes, 2).unwrap();
        assert_eq!(limbs, vec![0x0203_0405, 0x01]);
        assert_eq!(to_be_bytes(&limbs, 5), (bytes.to_vec(), true));
        assert_eq!(to_be_bytes(&limbs, 4), (vec![2, 3, 4, 5], false));
        assert_eq!(to_be_bytes(&limbs, 8).0, vec![0, 0, 0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn leading_zero_bytes_do_not_count_towards_the_limb_budget() {
        assert_eq!(from_be_bytes(&[0, 0, 0, 0, 0, 7], 1), Some(vec![7]));
        assert_eq!(from_be_bytes(&[1, 0, 0, 0, 0], 1), None);
    }

    #[test]
    fn bit_length_counts_from_the_highest_set_bit() {
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1, 0]), 1);
        assert_eq!(bit_length(&[0, 0x8000_0000]), 64);
    }

    #[test]
    fn subtraction_borrows_across_limbs() {
        let mut a = vec![0, 1];
        sub_assign(&mut a, &[1, 0]);
        assert_eq!(a, vec![u32::MAX, 0]);
    }

    #[test]
    fn doubling_reduces_modulo_n_including_the_carry_out() {
        let n = [0xffff_fff1u32];
        let mut x = vec![0xffff_fff0u32];
        double_mod(&mut x, &n);
        assert_eq!(u64::from(x[0]), (2 * 0xffff_fff0u64) % 0xffff_fff1);
        let mut small = vec![5u32];
        double_mod(&mut small, &[7]);
        assert_eq!(small, vec![3]);
    }
}
