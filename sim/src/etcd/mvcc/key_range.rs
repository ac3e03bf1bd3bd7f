//! Which keys a request covers, decoded from etcd's `key` + `range_end` pair.

use std::ops::Bound;

/// Start and end bounds over keys, for `BTreeMap::range`.
pub(crate) type KeyBounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// The keys named by `key` + `range_end`, with the meaning etcd gives them (`mkGteRange` in
/// `etcdserver/apply.go`, then `treeIndex.visit`).
///
/// Why an enum and not the raw pair: the three cases behave differently (`[0]` means "no upper
/// bound", an empty end means "just this key"), and every caller (range, delete, compare, watch)
/// must agree on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyRange<'a> {
    /// `range_end` empty: just `key`.
    Single(&'a [u8]),
    /// `range_end == [0]`: every key `>= key`.
    From(&'a [u8]),
    /// `[key, range_end)`; covers nothing when `range_end <= key`, as in etcd.
    Between(&'a [u8], &'a [u8]),
}

impl<'a> KeyRange<'a> {
    pub(crate) fn new(key: &'a [u8], range_end: &'a [u8]) -> Self {
        match range_end {
            [] => KeyRange::Single(key),
            [0] => KeyRange::From(key),
            end => KeyRange::Between(key, end),
        }
    }

    pub(crate) fn contains(&self, k: &[u8]) -> bool {
        match *self {
            KeyRange::Single(key) => k == key,
            KeyRange::From(key) => k >= key,
            KeyRange::Between(key, end) => key <= k && k < end,
        }
    }

    /// Bounds for `BTreeMap::range`, or `None` when the range is empty (`BTreeMap::range` panics
    /// on a start after the end, and `Between` allows one).
    pub(crate) fn bounds(&self) -> Option<KeyBounds<'a>> {
        match *self {
            KeyRange::Single(key) => Some((Bound::Included(key), Bound::Included(key))),
            KeyRange::From(key) => Some((Bound::Included(key), Bound::Unbounded)),
            KeyRange::Between(key, end) if key < end => {
                Some((Bound::Included(key), Bound::Excluded(end)))
            }
            KeyRange::Between(..) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_mk_gte_range() {
        assert_eq!(KeyRange::new(b"a", b""), KeyRange::Single(b"a"));
        assert_eq!(KeyRange::new(b"a", &[0]), KeyRange::From(b"a"));
        assert_eq!(KeyRange::new(b"a", b"c"), KeyRange::Between(b"a", b"c"));
        assert!(KeyRange::new(b"a", &[0]).contains(b"zzz"));
        assert!(!KeyRange::new(b"b", &[0]).contains(b"a"));
        assert!(KeyRange::new(b"a", b"c").contains(b"b"));
        assert!(!KeyRange::new(b"a", b"c").contains(b"c"));
        assert_eq!(KeyRange::new(b"c", b"a").bounds(), None);
        assert!(!KeyRange::new(b"c", b"a").contains(b"c"));
    }
}
