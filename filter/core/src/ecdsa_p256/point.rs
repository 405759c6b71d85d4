//! Points of P-256, the curve y² = x³ − 3x + b over the field of `field` (FIPS 186-4 §D.1.2.3,
//! SP 800-186 §3.2.1.3): affine points as they come from a key, Jacobian points for the
//! arithmetic, and the three formulas a verification needs. The formulas are those of the
//! Explicit-Formulas Database (hyperelliptic.org/EFD, "g1p/auto-shortw-jacobian-3"), which are
//! not complete: the cases they do not cover (the point at infinity, P + P, P + (−P)) are
//! detected and handled here, because crafted signatures reach them.

use super::field::Fe;

/// The curve coefficient b.
const B: Fe = Fe::constant([
    0x27d2_604b,
    0x3bce_3c3e,
    0xcc53_b0f6,
    0x651d_06b0,
    0x7698_86bc,
    0xb3eb_bd55,
    0xaa3a_93e7,
    0x5ac6_35d8,
]);

/// The base point G.
pub(super) const G: Affine = Affine {
    x: Fe::constant([
        0xd898_c296,
        0xf4a1_3945,
        0x2deb_33a0,
        0x7703_7d81,
        0x63a4_40f2,
        0xf8bc_e6e5,
        0xe12c_4247,
        0x6b17_d1f2,
    ]),
    y: Fe::constant([
        0x37bf_51f5,
        0xcbb6_4068,
        0x6b31_5ece,
        0x2bce_3357,
        0x7c0f_9e16,
        0x8ee7_eb4a,
        0xfe1a_7f9b,
        0x4fe3_42e2,
    ]),
};

/// A point other than infinity, `(x, y)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Affine {
    pub(super) x: Fe,
    pub(super) y: Fe,
}

impl Affine {
    /// The point `(x, y)`, or `None` if it does not satisfy y² = x³ − 3x + b.
    pub(super) fn on_curve(x: Fe, y: Fe) -> Option<Affine> {
        let three_x = x.double().add(x);
        let rhs = x.square().mul(x).sub(three_x).add(B);
        (y.square() == rhs).then_some(Affine { x, y })
    }
}

#[cfg(test)]
impl Affine {
    pub(super) fn neg(self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

/// `(X, Y, Z)` standing for the affine point `(X/Z², Y/Z³)`; `Z = 0` is the point at infinity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Jacobian {
    pub(super) x: Fe,
    pub(super) y: Fe,
    pub(super) z: Fe,
}

impl From<Affine> for Jacobian {
    fn from(p: Affine) -> Jacobian {
        Jacobian {
            x: p.x,
            y: p.y,
            z: Fe::ONE,
        }
    }
}

impl Jacobian {
    pub(super) const INFINITY: Jacobian = Jacobian {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    pub(super) fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// `2·self` by "dbl-2001-b" (a = −3): 3M + 5S. Infinity, and a point with y = 0 (P-256 has
    /// none), both give Z3 = 0, which is right.
    pub(super) fn double(&self) -> Jacobian {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(gamma);
        let t = self.x.sub(delta).mul(self.x.add(delta));
        let alpha = t.double().add(t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(beta4.double());
        let z3 = self.y.add(self.z).square().sub(gamma).sub(delta);
        let gamma_sq8 = gamma.square().double().double().double();
        let y3 = alpha.mul(beta4.sub(x3)).sub(gamma_sq8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `self + other` by "add-2007-bl": 11M + 5S, with the cases it does not cover handled
    /// first (either operand infinity) or detected on the way (equal x: double or infinity).
    pub(super) fn add(&self, other: &Jacobian) -> Jacobian {
        if self.is_infinity() {
            return *other;
        }
        if other.is_infinity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x.mul(z2z2);
        let u2 = other.x.mul(z1z1);
        let s1 = self.y.mul(other.z).mul(z2z2);
        let s2 = other.y.mul(self.z).mul(z1z1);
        let h = u2.sub(u1);
        let r = s2.sub(s1).double();
        if h.is_zero() {
            return self.same_x(r);
        }
        let i = h.double().square();
        let j = h.mul(i);
        let v = u1.mul(i);
        let x3 = r.square().sub(j).sub(v.double());
        let y3 = r.mul(v.sub(x3)).sub(s1.mul(j).double());
        let z3 = self.z.add(other.z).square().sub(z1z1).sub(z2z2).mul(h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `self + other` for an affine `other` (Z2 = 1) by "madd-2007-bl": 7M + 4S, with the same
    /// exceptional cases as `add`.
    pub(super) fn add_affine(&self, other: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from(*other);
        }
        let z1z1 = self.z.square();
        let u2 = other.x.mul(z1z1);
        let s2 = other.y.mul(self.z).mul(z1z1);
        let h = u2.sub(self.x);
        let r = s2.sub(self.y).double();
        if h.is_zero() {
            return self.same_x(r);
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(i);
        let v = self.x.mul(i);
        let x3 = r.square().sub(j).sub(v.double());
        let y3 = r.mul(v.sub(x3)).sub(self.y.mul(j).double());
        let z3 = self.z.add(h).square().sub(z1z1).sub(hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// The sum of `self` and a point with the same affine x: that point is `self` when the
    /// y difference `r` is zero (so the sum is a doubling), and `−self` otherwise (infinity).
    fn same_x(&self, r: Fe) -> Jacobian {
        if r.is_zero() {
            self.double()
        } else {
            Jacobian::INFINITY
        }
    }
}

/// The affine forms of `points` with one field inversion for all of them (Montgomery's trick:
/// invert the product of the Z's, then peel each inverse off it), or `None` if any is infinity.
pub(super) fn batch_to_affine(points: &[Jacobian]) -> Option<Vec<Affine>> {
    if points.iter().any(Jacobian::is_infinity) {
        return None;
    }
    // prefix[i] = z_0 · … · z_(i−1)
    let mut prefix = Vec::with_capacity(points.len());
    let mut product = Fe::ONE;
    for p in points {
        prefix.push(product);
        product = product.mul(p.z);
    }
    let mut inverse = product.invert(); // (z_0 · … · z_(i))⁻¹ as i walks down
    let mut out = vec![G; points.len()];
    for ((p, before), slot) in points.iter().zip(&prefix).zip(&mut out).rev() {
        let z_inv = inverse.mul(*before);
        inverse = inverse.mul(p.z);
        let z_inv2 = z_inv.square();
        *slot = Affine {
            x: p.x.mul(z_inv2),
            y: p.y.mul(z_inv2).mul(z_inv),
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine(p: &Jacobian) -> Affine {
        batch_to_affine(&[*p]).unwrap()[0]
    }

    /// A Jacobian form of `p` with Z ≠ 1, so the formulas see a general input.
    fn rescaled(p: Affine, z: Fe) -> Jacobian {
        let z2 = z.square();
        Jacobian {
            x: p.x.mul(z2),
            y: p.y.mul(z2).mul(z),
            z,
        }
    }

    fn some_z() -> Fe {
        G.x.add(Fe::ONE)
    }

    #[test]
    fn generator_is_on_the_curve() {
        assert_eq!(Affine::on_curve(G.x, G.y), Some(G));
        assert_eq!(Affine::on_curve(G.x, G.y.add(Fe::ONE)), None);
        assert_eq!(Affine::on_curve(Fe::ZERO, Fe::ZERO), None);
    }

    #[test]
    fn adding_a_point_to_itself_doubles_it() {
        let g = Jacobian::from(G);
        let doubled = affine(&g.double());
        assert_eq!(affine(&g.add(&g)), doubled);
        assert_eq!(affine(&rescaled(G, some_z()).add(&g)), doubled);
        assert_eq!(affine(&g.add_affine(&G)), doubled);
        assert_eq!(affine(&rescaled(G, some_z()).add_affine(&G)), doubled);
        assert!(Affine::on_curve(doubled.x, doubled.y).is_some());
    }

    #[test]
    fn adding_a_point_to_its_negation_gives_infinity() {
        let g = rescaled(G, some_z());
        assert!(g.add(&Jacobian::from(G.neg())).is_infinity());
        assert!(g.add_affine(&G.neg()).is_infinity());
    }

    #[test]
    fn infinity_is_the_identity() {
        let g = Jacobian::from(G);
        assert_eq!(affine(&Jacobian::INFINITY.add(&g)), G);
        assert_eq!(affine(&g.add(&Jacobian::INFINITY)), G);
        assert_eq!(affine(&Jacobian::INFINITY.add_affine(&G)), G);
        assert!(Jacobian::INFINITY.double().is_infinity());
        assert!(Jacobian::INFINITY.add(&Jacobian::INFINITY).is_infinity());
        assert_eq!(batch_to_affine(&[g, Jacobian::INFINITY]), None);
    }

    #[test]
    fn mixed_and_full_addition_agree() {
        let g = Jacobian::from(G);
        let two_g = affine(&g.double());
        let three_g = affine(&rescaled(two_g, some_z()).add(&g));
        assert_eq!(affine(&rescaled(two_g, some_z()).add_affine(&G)), three_g);
        assert_eq!(affine(&g.add_affine(&two_g)), three_g);
        // 3G − G = 2G, and 2G + 2G = 4G = 3G + G.
        assert_eq!(affine(&Jacobian::from(three_g).add_affine(&G.neg())), two_g);
        let two_g_j = rescaled(two_g, some_z().double());
        assert_eq!(
            affine(&two_g_j.add(&two_g_j)),
            affine(&Jacobian::from(three_g).add_affine(&G))
        );
    }
}
