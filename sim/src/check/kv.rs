//! placeholder
use super::model::{Model, Steps};
use super::partition::Partition;
use crate::history::Record;
#[derive(Clone, Debug)]
pub struct Kv;
impl Model for Kv {
    type State = ();
    type Input = ();
    type Output = ();
    fn init(&self) {}
    fn step(&self, _: &(), _: &(), _: Option<&()>) -> Steps<()> { Steps::One(()) }
    fn describe_op(&self, _: &(), _: Option<&()>) -> String { String::new() }
    fn describe_state(&self, _: &()) -> String { String::new() }
}
pub fn kv_partitions(_records: &[Record]) -> (Vec<Partition<Kv>>, Vec<String>) { (Vec::new(), Vec::new()) }
