//! `LinkFaults`: per-datagram loss and duplication, decided at the sender.
//!
//! Why not turmoil's `fail_rate`: it partitions the whole link at random, drops everything in
//! flight on it, and its random repair also wipes a one-way partition on that link (DESIGN §7).
//! Loss here is per datagram and independent of partitions, which stay turmoil's job.
//! Decisions draw from one seeded RNG in the order hosts send, which is itself deterministic.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Chances applied to each datagram on a link (or everywhere).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkRule {
    /// Probability, in `[0, 1]`, that a datagram is dropped at the sender.
    pub loss_probability: f64,
    /// Probability, in `[0, 1]`, that a datagram that was not dropped is sent twice.
    pub duplicate_probability: f64,
}

struct State {
    rng: ChaCha8Rng,
    global: LinkRule,
    /// Per unordered host pair; overrides `global`.
    links: BTreeMap<(String, String), LinkRule>,
}

/// Shared by every host of one cluster. Cheap to clone.
#[derive(Clone)]
pub struct LinkFaults {
    state: Rc<RefCell<State>>,
}

impl std::fmt::Debug for LinkFaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("LinkFaults")
            .field("global", &state.global)
            .field("links", &state.links)
            .finish()
    }
}

impl LinkFaults {
    /// No rule anywhere; `seed` seeds the RNG every loss and duplication decision draws from.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6c69_6e6b),
                global: LinkRule::default(),
                links: BTreeMap::new(),
            })),
        }
    }

    /// Whether no loss or duplication is set anywhere: every datagram goes out once, and a
    /// sender need not even name its peer (a reverse DNS lookup per reply, otherwise).
    pub fn quiet(&self) -> bool {
        let state = self.state.borrow();
        state.links.is_empty() && state.global == LinkRule::default()
    }

    /// [`LinkFaults::copies`] with the peer's name computed only when a rule may apply.
    pub fn copies_to(&self, from: &str, to: impl FnOnce() -> String) -> usize {
        if self.quiet() {
            return 1;
        }
        self.copies(from, &to())
    }

    /// How many copies of a datagram from `from` to `to` to send: 0 (lost), 1, or 2.
    pub fn copies(&self, from: &str, to: &str) -> usize {
        let mut state = self.state.borrow_mut();
        // Most runs set no per-link rule: skip building the pair's key for every datagram.
        let rule = if state.links.is_empty() {
            state.global
        } else {
            state
                .links
                .get(&pair(from, to))
                .copied()
                .unwrap_or(state.global)
        };
        if rule == LinkRule::default() {
            // No draw when no fault is set: adding a rule elsewhere does not shift this link.
            return 1;
        }
        if rule.loss_probability > 0.0 && state.rng.gen_bool(rule.loss_probability) {
            return 0;
        }
        if rule.duplicate_probability > 0.0 && state.rng.gen_bool(rule.duplicate_probability) {
            return 2;
        }
        1
    }

    /// Set the rule for every link without one of its own.
    pub fn set_global(&self, rule: LinkRule) {
        self.state.borrow_mut().global = rule;
    }

    /// The rule of every link without one of its own.
    pub fn global(&self) -> LinkRule {
        self.state.borrow().global
    }

    /// Set (or, with the default rule, clear) the rule of the link between `a` and `b`.
    pub fn set_link(&self, a: &str, b: &str, rule: LinkRule) {
        let mut state = self.state.borrow_mut();
        if rule == LinkRule::default() {
            state.links.remove(&pair(a, b));
        } else {
            state.links.insert(pair(a, b), rule);
        }
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rule_no_draw_and_rates_are_respected() {
        let faults = LinkFaults::new(1);
        assert!((0..100).all(|_| faults.copies("a", "b") == 1));
        faults.set_link(
            "b",
            "a",
            LinkRule {
                loss_probability: 1.0,
                duplicate_probability: 0.0,
            },
        );
        assert_eq!(faults.copies("a", "b"), 0);
        assert_eq!(faults.copies("a", "c"), 1);
        faults.set_global(LinkRule {
            loss_probability: 0.0,
            duplicate_probability: 1.0,
        });
        assert_eq!(faults.copies("a", "c"), 2);
        faults.set_link("a", "b", LinkRule::default());
        assert_eq!(faults.copies("a", "b"), 2);
    }
}
