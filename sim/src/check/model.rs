//! `Model`: the sequential specification a history is checked against, and `Op`, one operation
//! of a history as the search sees it.

use std::hash::Hash;

/// One completed or indeterminate operation: what was asked, what came back, and when.
///
/// Invariant: `ret` is `None` exactly when `output` is `None` (the operation is indeterminate: it
/// may take effect at any point after `call`, or never). Checked: [`Op::is_indeterminate`] is the
/// only way the search asks, and the constructors of every format keep the two together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op<I, O> {
    /// Where the operation came from: its `index` in a JSON-lines history, or the line number of
    /// its invocation in a Jepsen log or EDN file. Reports name operations by it.
    pub id: u64,
    /// The client that issued it.
    pub process: String,
    /// Invocation time (simulated ms, or a line number: only the order matters).
    pub call: u64,
    /// Completion time; `None` = indeterminate.
    pub ret: Option<u64>,
    /// What was asked, in the model's terms.
    pub input: I,
    /// `None` = indeterminate: no answer came.
    pub output: Option<O>,
}

impl<I, O> Op<I, O> {
    /// Whether no answer came (no `ret` or no `output`): the operation may take effect at any
    /// point after `call`, or never.
    pub fn is_indeterminate(&self) -> bool {
        self.ret.is_none() || self.output.is_none()
    }
}

/// What one operation can do to a state: nothing (the output is impossible from this state), one
/// successor, or several.
///
/// Why several: an indeterminate etcd txn whose compare reads a revision nobody has observed yet
/// may have taken either branch. Porcupine's models are deterministic and would have to guess;
/// a guess could report a correct history as broken, so the search tries each successor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Steps<S> {
    /// The output is impossible from this state: this order of operations fails here.
    None,
    /// Exactly one successor state (the common case).
    One(S),
    /// Several possible successors, each tried in order.
    Many(Vec<S>),
}

impl<S> Steps<S> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Steps::None => 0,
            Steps::One(_) => 1,
            Steps::Many(v) => v.len(),
        }
    }

    pub(crate) fn into_nth(self, n: usize) -> Option<S> {
        match self {
            Steps::None => None,
            Steps::One(s) => (n == 0).then_some(s),
            Steps::Many(mut v) => (n < v.len()).then(|| v.swap_remove(n)),
        }
    }
}

/// Iterator over the successors of a [`Steps`], without allocating for the common single one.
pub enum StepsIter<S> {
    /// Zero or one successor left.
    One(Option<S>),
    /// The successors left of a [`Steps::Many`].
    Many(std::vec::IntoIter<S>),
}

impl<S> Iterator for StepsIter<S> {
    type Item = S;

    fn next(&mut self) -> Option<S> {
        match self {
            StepsIter::One(s) => s.take(),
            StepsIter::Many(it) => it.next(),
        }
    }
}

impl<S> IntoIterator for Steps<S> {
    type Item = S;
    type IntoIter = StepsIter<S>;

    fn into_iter(self) -> StepsIter<S> {
        match self {
            Steps::None => StepsIter::One(None),
            Steps::One(s) => StepsIter::One(Some(s)),
            Steps::Many(v) => StepsIter::Many(v.into_iter()),
        }
    }
}

impl<S> From<Option<S>> for Steps<S> {
    fn from(s: Option<S>) -> Self {
        match s {
            Some(s) => Steps::One(s),
            None => Steps::None,
        }
    }
}

/// A sequential specification.
///
/// Callers of the search rely on two obligations:
/// * `step` MUST be a pure function of its arguments (the memo table caches its results by
///   state), and MUST return the successors in the same order every time (the verdict and the
///   reported prefix must not depend on anything else).
/// * For an indeterminate operation (`output == None`), `step` MUST return at least one
///   successor from every state. Why: "took effect at the end" must always be possible, which is
///   what makes "never took effect" expressible without a second kind of operation.
pub trait Model: Send + Sync {
    /// A state of the sequential object; hashed and compared for the memo table, so it must
    /// capture everything `step` depends on.
    type State: Clone + Eq + Hash + Send;
    /// What an operation asks (a read, a write, a txn).
    type Input: Send + Sync;
    /// What an operation answered.
    type Output: Send + Sync;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The successors of `state` after an operation asking `input` and answering `output`
    /// (`None`: indeterminate, may have any effect the model allows). [`Steps::None`] when the
    /// answer is impossible from `state`. Must be pure and deterministic; see the trait docs.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Steps<Self::State>;

    /// The operation in words, for reports (`write(3)`, `put k1=v -> rev 7`).
    fn describe_op(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// The state in words, for reports.
    fn describe_state(&self, state: &Self::State) -> String;
}
