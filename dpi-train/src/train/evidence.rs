//! When a learnt rule is kept: evidence from captures it was not mined
//! from, weighed by a statistical bound.
//!
//! A candidate's evidence is gathered capture by capture, leaving one out
//! at a time ([`Evidence::leave_one_capture_out`]): the flows a rule names
//! in capture `k` are held-out evidence only when the rule stands without
//! `k` — it still names at least `min_support` training flows of its
//! protocol in the other captures, with at least `min_precision` there —
//! so that it would have been found had `k` never been seen. A rule that
//! only one capture supports gets no evidence from it, however many flows
//! it holds. Every false positive counts, in whatever capture it lies:
//! matches on flows of other protocols and, times the unlabelled weight,
//! on flows the reference leaves unlabelled or labels only weakly.
//! "Capture" here means a source: near-duplicate captures (a trace and
//! its filtered or re-encapsulated copy) are one ([`super::sources`]), so
//! a copy never confirms a rule mined from its original.
//!
//! A rule is kept when ([`Gate::verdict`]):
//!
//! 1. its held-out precision `tp / (tp + fp)` reaches `min_precision`; and
//! 2. the one-sided Wilson lower bound, at `confidence`, of that
//!    precision reaches `min_bound`, where each held-out capture
//!    contributes at most `per_capture` true positives (many flows of one
//!    capture are one piece of evidence, not many) and false positives
//!    count in full.
//!
//! With no false positive the bound is `n / (n + z²)` for `n` capped true
//! positives: at the defaults (95%, so z = 1.645, z² = 2.71; 2 per
//! capture; bound 0.5) at least three capped flows are needed, so at least
//! two captures that each confirm the rule found in the others: a literal
//! at offset 0 seen in 5 flows of 2 captures and in no other flow passes
//! (bound 0.60); one seen in 50 flows of one capture does not.

/// Held-out counts of one rule, pooled over the rotations that chose it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// Matches on held-out flows of the rule's protocol (weighted flows).
    pub tp: f64,
    /// Matches on held-out flows of other protocols or unlabelled ones
    /// (weighted as in [`super::score`]).
    pub fp: f64,
    /// `tp` with each held-out capture counted for at most
    /// [`Gate::per_capture`] flows.
    pub capped_tp: f64,
    /// Held-out captures with at least one true positive.
    pub captures: usize,
}

impl Evidence {
    /// The evidence of one held-out fold: the counts and the true
    /// positives per capture (`per_capture` caps each capture's share).
    pub fn of_fold(
        counts: super::score::Counts,
        tp_captures: &std::collections::BTreeMap<u32, f64>,
        per_capture: f64,
    ) -> Evidence {
        let capped: f64 = tp_captures.values().map(|&n| n.min(per_capture)).sum();
        Evidence {
            tp: counts.tp,
            fp: counts.fp,
            // Examples whose captures were not kept still count, capped
            // as one capture.
            capped_tp: if tp_captures.is_empty() {
                counts.tp.min(per_capture)
            } else {
                capped
            },
            captures: tp_captures.values().filter(|&&n| n > 0.0).count(),
        }
    }

    /// The leave-one-capture-out evidence of a rule from its counts per
    /// capture (see the module docs).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use dpi_train::train::evidence::Evidence;
    /// use dpi_train::train::score::Counts;
    /// let mut per = BTreeMap::new();
    /// per.insert(0u32, Counts { tp: 3.0, fp: 0.0 });
    /// per.insert(1u32, Counts { tp: 2.0, fp: 0.0 });
    /// let ev = Evidence::leave_one_capture_out(&per, 2.0, 0.99, 2.0);
    /// assert_eq!((ev.tp, ev.capped_tp, ev.captures), (5.0, 4.0, 2));
    /// // One capture alone: the rule does not stand without it.
    /// per.remove(&1);
    /// assert_eq!(Evidence::leave_one_capture_out(&per, 2.0, 0.99, 2.0).tp, 0.0);
    /// ```
    pub fn leave_one_capture_out(
        per_capture: &std::collections::BTreeMap<u32, super::score::Counts>,
        min_support: f64,
        min_precision: f64,
        cap: f64,
    ) -> Evidence {
        Evidence::held_out(per_capture, cap, |rest| {
            rest.tp >= min_support && rest.precision().is_some_and(|p| p >= min_precision)
        })
    }

    /// The evidence of a tier rule whose key a registry assigns to its
    /// protocol ([`super::assigned`]): the assignment is one more source,
    /// independent of the captures. Capture `k`'s flows count as held out
    /// when the rule stands without `k` — on the other captures as in
    /// [`Evidence::leave_one_capture_out`], or on the registry alone when
    /// the other captures do not contradict it (no match there, or their
    /// precision reaches `min_precision`); and the registry adds `cap`
    /// capped true positives, as one more capture confirming the rule
    /// would. It adds nothing to `tp` or `fp`: the precision is the
    /// captures' own.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use dpi_train::train::evidence::Evidence;
    /// use dpi_train::train::score::Counts;
    /// let mut per = BTreeMap::new();
    /// per.insert(0u32, Counts { tp: 2.0, fp: 0.0 });
    /// // One capture and the registry: 2 + 2 capped true positives.
    /// let ev = Evidence::with_assignment(&per, 0.99, 2.0);
    /// assert_eq!((ev.tp, ev.capped_tp, ev.captures), (2.0, 4.0, 1));
    /// // A capture that contradicts the rule sinks it as before.
    /// per.insert(1u32, Counts { tp: 0.0, fp: 3.0 });
    /// assert_eq!(Evidence::with_assignment(&per, 0.99, 2.0).tp, 0.0);
    /// ```
    pub fn with_assignment(
        per_capture: &std::collections::BTreeMap<u32, super::score::Counts>,
        min_precision: f64,
        cap: f64,
    ) -> Evidence {
        // With the registry standing in for support, the rest need only
        // not contradict the rule.
        let mut ev = Evidence::held_out(per_capture, cap, |rest| {
            rest.precision().is_none_or(|p| p >= min_precision)
        });
        // Nothing of the captures held out: the registry alone confirms
        // nothing.
        if ev.tp > 0.0 {
            ev.capped_tp += cap;
        }
        ev
    }

    /// Every capture's true positives count as held out (capped at
    /// `cap`) when `stands` accepts the counts of the other captures;
    /// false positives count wherever they lie.
    fn held_out(
        per_capture: &std::collections::BTreeMap<u32, super::score::Counts>,
        cap: f64,
        stands: impl Fn(&super::score::Counts) -> bool,
    ) -> Evidence {
        let total = per_capture
            .values()
            .fold(super::score::Counts::default(), |mut a, c| {
                a.add(*c);
                a
            });
        let mut ev = Evidence {
            fp: total.fp,
            ..Evidence::default()
        };
        for c in per_capture.values() {
            if c.tp <= 0.0 {
                continue;
            }
            let rest = super::score::Counts {
                tp: total.tp - c.tp,
                fp: total.fp - c.fp,
            };
            if stands(&rest) {
                ev.tp += c.tp;
                ev.capped_tp += c.tp.min(cap);
                ev.captures += 1;
            }
        }
        ev
    }

    /// Adds another fold's evidence.
    pub fn add(&mut self, o: Evidence) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.capped_tp += o.capped_tp;
        self.captures += o.captures;
    }

    /// `tp / (tp + fp)`; `None` when nothing matched.
    pub fn precision(&self) -> Option<f64> {
        let n = self.tp + self.fp;
        (n > 0.0).then(|| self.tp / n)
    }

    /// The one-sided Wilson lower bound of the precision with capped true
    /// positives, at quantile `z`; 0 when nothing matched.
    pub fn lower_bound(&self, z: f64) -> f64 {
        wilson_lower(self.capped_tp, self.capped_tp + self.fp, z)
    }
}

/// The Wilson score interval's lower end for `successes` out of `n`
/// trials at standard-normal quantile `z` (E. B. Wilson, "Probable
/// inference, the law of succession, and statistical inference", JASA
/// 1927); 0 when `n` is 0.
///
/// ```
/// use dpi_train::train::evidence::wilson_lower;
/// // No failure in n trials: n / (n + z²).
/// let z = 1.645;
/// assert!((wilson_lower(5.0, 5.0, z) - 5.0 / (5.0 + z * z)).abs() < 1e-12);
/// assert_eq!(wilson_lower(0.0, 0.0, z), 0.0);
/// ```
pub fn wilson_lower(successes: f64, n: f64, z: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = (successes / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

/// The standard-normal quantile of probability `p` (0 < p < 1): Peter
/// Acklam's rational approximation (relative error below 1.15e-9), its
/// published coefficients.
///
/// ```
/// use dpi_train::train::evidence::normal_quantile;
/// assert!((normal_quantile(0.95) - 1.644_853_6).abs() < 1e-6);
/// assert!((normal_quantile(0.5)).abs() < 1e-9);
/// ```
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The keep rule and its settings (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// Least held-out precision (point estimate).
    pub min_precision: f64,
    /// One-sided confidence of the bound (0.95: z = 1.645).
    pub confidence: f64,
    /// Least lower bound of the held-out precision.
    pub min_bound: f64,
    /// True positives of one held-out capture counted at most.
    pub per_capture: f64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            min_precision: 0.99,
            confidence: 0.95,
            min_bound: 0.5,
            per_capture: 2.0,
        }
    }
}

impl Gate {
    /// The quantile of [`Gate::confidence`].
    pub fn z(&self) -> f64 {
        normal_quantile(self.confidence.clamp(0.5, 0.999_999))
    }

    /// `Ok` when `ev` is enough to keep a rule, else why not.
    ///
    /// ```
    /// use dpi_train::train::evidence::{Evidence, Gate};
    /// let gate = Gate::default();
    /// // 5 held-out flows in 2 captures, no false positive: kept.
    /// let two = Evidence { tp: 5.0, fp: 0.0, capped_tp: 5.0, captures: 2 };
    /// assert!(gate.verdict(&two).is_ok());
    /// // 50 held-out flows, all in one capture: one piece of evidence.
    /// let one = Evidence { tp: 50.0, fp: 0.0, capped_tp: 2.0, captures: 1 };
    /// assert!(gate.verdict(&one).is_err());
    /// ```
    pub fn verdict(&self, ev: &Evidence) -> Result<(), String> {
        let Some(p) = ev.precision() else {
            return Err("no match on captures it was not mined from (untested)".to_owned());
        };
        if ev.tp <= 0.0 {
            return Err(format!(
                "no true positive on captures it was not mined from (fp {:.0})",
                ev.fp
            ));
        }
        if p < self.min_precision {
            return Err(format!(
                "held-out precision {p:.4} < {} (tp {:.0}, fp {:.0})",
                self.min_precision, ev.tp, ev.fp
            ));
        }
        let lb = ev.lower_bound(self.z());
        if lb < self.min_bound {
            return Err(format!(
                "too little held-out evidence: precision bound {lb:.3} < {} ({:.0} flows in {} captures, counted as {:.1}; fp {:.0})",
                self.min_bound, ev.tp, ev.captures, ev.capped_tp, ev.fp
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        for (p, z) in [(0.975, 1.959_964), (0.9, 1.281_552), (0.99, 2.326_348)] {
            assert!((normal_quantile(p) - z).abs() < 1e-5, "{p}");
            assert!((normal_quantile(1.0 - p) + z).abs() < 1e-5, "{p}");
        }
    }

    #[test]
    fn wilson_matches_closed_form() {
        // 8 of 10 at z = 1.96: 0.4902 (the textbook value).
        assert!((wilson_lower(8.0, 10.0, 1.96) - 0.4902).abs() < 1e-3);
        assert!(wilson_lower(10.0, 10.0, 1.96) > wilson_lower(9.0, 10.0, 1.96));
    }

    #[test]
    fn a_false_positive_sinks_a_small_rule() {
        let g = Gate::default();
        let ev = Evidence {
            tp: 20.0,
            fp: 1.0,
            capped_tp: 6.0,
            captures: 2,
        };
        assert!(g.verdict(&ev).unwrap_err().contains("precision"));
    }
}
