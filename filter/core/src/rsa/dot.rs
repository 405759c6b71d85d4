//! The column sums of `lazy`'s product scanning: `Σ x_t·y_t` over 28-bit limbs held in `u32`s.
//! Each product is below 2^56 and the caller's bound keeps every sum below 2^64, so nothing here
//! carries. It knows nothing of moduli, Montgomery reduction or limb sizes.
//!
//! Two kernels behind one trait, `Kernel`:
//! - `Scalar`: 64-bit products, four per loop step. Native builds use it, and so do wasm builds
//!   without `simd128`.
//! - `Lanes`: two 64-bit lanes fed by `i64x2.extmul_{low,high}_i32x4_u` (two 32×32→64 products
//!   per instruction, which wasm32 has no scalar equivalent of) on four limbs per vector,
//!   sixteen products a loop step. The wasm module uses it when built with `simd128` (see
//!   `.cargo/config.toml`). It is written against `LaneOps`, so the tests run the very same lane
//!   logic natively on an emulation of the two lanes.

/// `Σ x_t·y_t` over the length of `x` (the other slices at least as long).
pub(super) trait Kernel {
    fn dot(x: &[u32], y: &[u32]) -> u64;
    /// `Σ x_t·y_t + u_t·v_t` over the length of `x`.
    fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32]) -> u64;
}

/// The kernel `lazy` runs in this build.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) type Fastest = Lanes<Simd128>;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(super) type Fastest = Scalar;

/// Plain 64-bit arithmetic.
#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
pub(super) struct Scalar;

#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline(always)]
fn product(x: u32, y: u32) -> u64 {
    u64::from(x) * u64::from(y)
}

#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
impl Kernel for Scalar {
    /// Four products per step on fixed-size chunks: LLVM does not unroll these loops for wasm32,
    /// and the chunks let it drop the bounds checks and address with constant offsets; two sums
    /// halve the chain of dependent adds.
    #[inline(always)]
    fn dot(x: &[u32], y: &[u32]) -> u64 {
        let y = &y[..x.len()];
        let ((xs, x_rest), (ys, y_rest)) = (x.as_chunks::<4>(), y.as_chunks::<4>());
        let (mut even, mut odd) = (0u64, 0u64);
        for (a, b) in xs.iter().zip(ys) {
            even += product(a[0], b[0]) + product(a[2], b[2]);
            odd += product(a[1], b[1]) + product(a[3], b[3]);
        }
        for (a, b) in x_rest.iter().zip(y_rest) {
            even += product(*a, *b);
        }
        even + odd
    }

    #[inline(always)]
    fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32]) -> u64 {
        let len = x.len();
        let (y, u, v) = (&y[..len], &u[..len], &v[..len]);
        let ((xs, x_rest), (ys, y_rest)) = (x.as_chunks::<4>(), y.as_chunks::<4>());
        let ((us, u_rest), (vs, v_rest)) = (u.as_chunks::<4>(), v.as_chunks::<4>());
        let (mut xy, mut uv) = (0u64, 0u64);
        for ((a, b), (c, d)) in xs.iter().zip(ys).zip(us.iter().zip(vs)) {
            xy += product(a[0], b[0]) + product(a[1], b[1]) + product(a[2], b[2]);
            xy += product(a[3], b[3]);
            uv += product(c[0], d[0]) + product(c[1], d[1]) + product(c[2], d[2]);
            uv += product(c[3], d[3]);
        }
        let rest = x_rest.iter().zip(y_rest);
        for ((a, b), (c, d)) in rest.zip(u_rest.iter().zip(v_rest)) {
            xy += product(*a, *b);
            uv += product(*c, *d);
        }
        xy + uv
    }
}

/// Two 64-bit lanes, as wasm's `v128` viewed as `i64x2`.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
pub(super) trait LaneOps {
    type V: Copy;
    fn zero() -> Self::V;
    /// Two limbs as the low two 32-bit lanes (the high two are not read).
    fn pair(low: u32, high: u32) -> Self::V;
    /// `acc + (x0·y0, x1·y1)` over the low two 32-bit lanes: one extending multiply. `veil` is
    /// `veil()`.
    fn mul_add(acc: Self::V, x: Self::V, y: Self::V, veil: Self::V) -> Self::V;
    /// `acc + (x0·y0 + x2·y2, x1·y1 + x3·y3)`: four limbs of each factor in one vector, an
    /// extending multiply of the low halves and one of the high halves. `veil` is `veil()`.
    fn mul_add4(acc: Self::V, x: &[u32; 4], y: &[u32; 4], veil: Self::V) -> Self::V;
    /// Zero, as a value the compiler cannot see is zero (see `Simd128`).
    fn veil() -> Self::V;
    /// `a + b`, lane by lane.
    fn add(a: Self::V, b: Self::V) -> Self::V;
    /// The sum of the two lanes.
    fn sum(acc: Self::V) -> u64;
}

/// `Σ x_t·y_t` over eight limbs, added into `acc`: four extending multiplies whose products are
/// summed in a tree, so the chain through `acc` is one add per eight limbs.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn mul_add8<L: LaneOps>(acc: L::V, x: &[u32; 8], y: &[u32; 8], veil: L::V) -> L::V {
    let zero = L::zero();
    let ((x, _), (y, _)) = (x.as_chunks::<4>(), y.as_chunks::<4>());
    let p0 = L::mul_add4(zero, &x[0], &y[0], veil);
    let p1 = L::mul_add4(zero, &x[1], &y[1], veil);
    L::add(acc, L::add(p0, p1))
}

/// Sixteen limbs as two times eight.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn halves(x: &[u32; 16]) -> &[[u32; 8]] {
    x.as_chunks::<8>().0
}

/// `Kernel` on two 64-bit lanes. A loop step loads sixteen limbs of each factor, four at a time,
/// and adds their sixteen products into the lanes; what is left (at most fifteen limbs) takes
/// one eight-limb block, one four-limb block, one pair and one scalar product, all without a loop.
///
/// Few, long steps matter in wasmtime: every loop back edge checks the epoch deadline, and the
/// check's slow path is a call, across which the vector accumulators are spilled to the stack.
/// Sixteen-limb steps and a loop-free remainder verify RS256 in ~61 µs in wasmtime 48 where
/// eight-limb steps with a pair loop took ~74 µs (`examples/wasm_rsa_verify.rs`).
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
pub(super) struct Lanes<L>(core::marker::PhantomData<L>);

#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
impl<L: LaneOps> Lanes<L> {
    /// What the eight-limb blocks leave over (at most seven limbs): one four-limb block, one
    /// pair, then the last odd limb, without a loop.
    #[inline(always)]
    fn rest(mut acc: L::V, x: &[u32], y: &[u32], veil: L::V) -> L::V {
        debug_assert!(x.len() < 8, "only an eight-limb block's remainder");
        let y = &y[..x.len()];
        let ((xs, x_rest), (ys, y_rest)) = (x.as_chunks::<4>(), y.as_chunks::<4>());
        if let (Some(a), Some(b)) = (xs.first(), ys.first()) {
            acc = L::mul_add4(acc, a, b, veil);
        }
        let ((xs, x_last), (ys, y_last)) = (x_rest.as_chunks::<2>(), y_rest.as_chunks::<2>());
        if let (Some(a), Some(b)) = (xs.first(), ys.first()) {
            acc = L::mul_add(acc, L::pair(a[0], a[1]), L::pair(b[0], b[1]), veil);
        }
        match (x_last.first(), y_last.first()) {
            (Some(a), Some(b)) => L::mul_add(acc, L::pair(*a, 0), L::pair(*b, 0), veil),
            _ => acc,
        }
    }
}

#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
impl<L: LaneOps> Kernel for Lanes<L> {
    #[inline(always)]
    fn dot(x: &[u32], y: &[u32]) -> u64 {
        let y = &y[..x.len()];
        let veil = L::veil();
        let mut acc = L::zero();
        let ((xs, x_rest), (ys, y_rest)) = (x.as_chunks::<16>(), y.as_chunks::<16>());
        for (a, b) in xs.iter().zip(ys) {
            for (a, b) in halves(a).iter().zip(halves(b)) {
                acc = mul_add8::<L>(acc, a, b, veil);
            }
        }
        let ((xs, x_rest), (ys, y_rest)) = (x_rest.as_chunks::<8>(), y_rest.as_chunks::<8>());
        if let (Some(a), Some(b)) = (xs.first(), ys.first()) {
            acc = mul_add8::<L>(acc, a, b, veil);
        }
        L::sum(Self::rest(acc, x_rest, y_rest, veil))
    }

    #[inline(always)]
    fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32]) -> u64 {
        let len = x.len();
        let (y, u, v) = (&y[..len], &u[..len], &v[..len]);
        let veil = L::veil();
        let mut acc = L::zero();
        let ((xs, x_rest), (ys, y_rest)) = (x.as_chunks::<16>(), y.as_chunks::<16>());
        let ((us, u_rest), (vs, v_rest)) = (u.as_chunks::<16>(), v.as_chunks::<16>());
        for ((a, b), (c, d)) in xs.iter().zip(ys).zip(us.iter().zip(vs)) {
            for ((a, b), (c, d)) in halves(a)
                .iter()
                .zip(halves(b))
                .zip(halves(c).iter().zip(halves(d)))
            {
                acc = mul_add8::<L>(mul_add8::<L>(acc, a, b, veil), c, d, veil);
            }
        }
        let ((xs, x_rest), (ys, y_rest)) = (x_rest.as_chunks::<8>(), y_rest.as_chunks::<8>());
        let ((us, u_rest), (vs, v_rest)) = (u_rest.as_chunks::<8>(), v_rest.as_chunks::<8>());
        if let (Some(a), Some(b), Some(c), Some(d)) =
            (xs.first(), ys.first(), us.first(), vs.first())
        {
            acc = mul_add8::<L>(mul_add8::<L>(acc, a, b, veil), c, d, veil);
        }
        let acc = Self::rest(Self::rest(acc, x_rest, y_rest, veil), u_rest, v_rest, veil);
        L::sum(acc)
    }
}

/// wasm SIMD128.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) struct Simd128;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl LaneOps for Simd128 {
    type V = core::arch::wasm32::v128;

    #[inline(always)]
    fn zero() -> Self::V {
        core::arch::wasm32::u64x2_splat(0)
    }

    #[inline(always)]
    fn pair(low: u32, high: u32) -> Self::V {
        core::arch::wasm32::u32x4(low, high, 0, 0)
    }

    #[inline(always)]
    fn mul_add(acc: Self::V, x: Self::V, y: Self::V, veil: Self::V) -> Self::V {
        use core::arch::wasm32::{i64x2_add, u64x2_extmul_low_u32x4, v128_or};
        // Veiled like `mul_add4`'s operands, for the same reason.
        let (x, y) = (v128_or(x, veil), v128_or(y, veil));
        i64x2_add(acc, u64x2_extmul_low_u32x4(x, y))
    }

    #[inline(always)]
    fn mul_add4(acc: Self::V, x: &[u32; 4], y: &[u32; 4], veil: Self::V) -> Self::V {
        use core::arch::wasm32::{
            i64x2_add, u32x4, u64x2_extmul_high_u32x4, u64x2_extmul_low_u32x4, v128_or,
        };
        // Without the veil LLVM rewrites the extending multiplies of loaded limbs into
        // zero-extending loads (`v128.load32x2_u`) and a full `i64x2.mul`, which Cranelift lowers
        // to one `vpmullq` only with AVX-512; on other x86 CPUs to three `pmuludq`, three shifts
        // and two adds. Kept as `i64x2.extmul_{low,high}_i32x4_u`, each is a `pshufd` per
        // operand and one `pmuludq` there.
        let a = v128_or(u32x4(x[0], x[1], x[2], x[3]), veil);
        let b = v128_or(u32x4(y[0], y[1], y[2], y[3]), veil);
        let low = u64x2_extmul_low_u32x4(a, b);
        let high = u64x2_extmul_high_u32x4(a, b);
        i64x2_add(acc, i64x2_add(low, high))
    }

    #[inline(always)]
    fn veil() -> Self::V {
        core::hint::black_box(core::arch::wasm32::u64x2_splat(0))
    }

    #[inline(always)]
    fn add(a: Self::V, b: Self::V) -> Self::V {
        core::arch::wasm32::i64x2_add(a, b)
    }

    #[inline(always)]
    fn sum(acc: Self::V) -> u64 {
        use core::arch::wasm32::u64x2_extract_lane;
        u64x2_extract_lane::<0>(acc) + u64x2_extract_lane::<1>(acc)
    }
}

/// The two lanes in plain integers, for testing `Lanes` where there is no wasm SIMD. Additions
/// are checked in test builds, so a sum that would wrap in a real lane fails the test instead.
#[cfg(test)]
pub(super) struct Emulated;

#[cfg(test)]
impl LaneOps for Emulated {
    /// The low two 32-bit lanes of `x`/`y`, or the two 64-bit lanes of a sum.
    type V = [u64; 2];

    fn zero() -> [u64; 2] {
        [0, 0]
    }

    fn pair(low: u32, high: u32) -> [u64; 2] {
        [u64::from(low), u64::from(high)]
    }

    fn mul_add(acc: [u64; 2], x: [u64; 2], y: [u64; 2], veil: [u64; 2]) -> [u64; 2] {
        [
            acc[0] + x[0] * y[0] + veil[0],
            acc[1] + x[1] * y[1] + veil[1],
        ]
    }

    fn mul_add4(acc: [u64; 2], x: &[u32; 4], y: &[u32; 4], veil: [u64; 2]) -> [u64; 2] {
        let p = |i: usize| u64::from(x[i]) * u64::from(y[i]);
        [
            acc[0] + (p(0) + p(2)) + veil[0],
            acc[1] + (p(1) + p(3)) + veil[1],
        ]
    }

    fn veil() -> [u64; 2] {
        [0, 0]
    }

    fn add(a: [u64; 2], b: [u64; 2]) -> [u64; 2] {
        [a[0] + b[0], a[1] + b[1]]
    }

    fn sum(acc: [u64; 2]) -> u64 {
        acc[0] + acc[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limbs(seed: u64, len: usize) -> Vec<u32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 36) as u32
            })
            .collect()
    }

    #[test]
    fn lanes_and_scalar_sum_the_same_products_for_every_length() {
        for len in 0..=40 {
            let (x, y) = (limbs(1 + len as u64, len), limbs(100 + len as u64, len + 3));
            let (u, v) = (limbs(200 + len as u64, len), limbs(300 + len as u64, len));
            let naive: u64 = x.iter().zip(&y).map(|(a, b)| product(*a, *b)).sum();
            let naive2 = naive + u.iter().zip(&v).map(|(a, b)| product(*a, *b)).sum::<u64>();
            assert_eq!(Scalar::dot(&x, &y), naive, "{len}");
            assert_eq!(Lanes::<Emulated>::dot(&x, &y), naive, "{len}");
            assert_eq!(Scalar::dot2(&x, &y, &u, &v), naive2, "{len}");
            assert_eq!(Lanes::<Emulated>::dot2(&x, &y, &u, &v), naive2, "{len}");
        }
    }

    #[test]
    fn lanes_hold_the_largest_28_bit_sums_lazy_makes() {
        // 240 products of the largest 28-bit limbs: what `lazy` sums at most in a column.
        let max = vec![(1u32 << 28) - 1; 120];
        let want = 240 * product(max[0], max[0]);
        assert_eq!(Lanes::<Emulated>::dot2(&max, &max, &max, &max), want);
        assert_eq!(Scalar::dot2(&max, &max, &max, &max), want);
    }
}
