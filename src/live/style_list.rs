//! The style list the inference workers load from, by index. It grows while the view runs (the
//! G key grabs the camera's frame as a new picture style) and an entry can be revised in place
//! (the M key's morph moves along its blend): each entry carries a revision, and a worker whose
//! engine was loaded from an older revision reloads it.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::engine::StyleChoice;

/// Styles by index, each with its revision.
#[derive(Default)]
pub struct StyleList {
    entries: RwLock<Vec<(StyleChoice, u64)>>,
}

impl StyleList {
    pub fn new(styles: Vec<StyleChoice>) -> Self {
        StyleList {
            entries: RwLock::new(styles.into_iter().map(|s| (s, 0)).collect()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<(StyleChoice, u64)>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<(StyleChoice, u64)>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the whole list (revisions restart).
    pub fn set(&self, styles: Vec<StyleChoice>) {
        *self.write() = styles.into_iter().map(|s| (s, 0)).collect();
    }

    /// Entry `i` and its revision.
    pub fn get(&self, i: usize) -> Option<(StyleChoice, u64)> {
        self.read().get(i).cloned()
    }

    /// The name of entry `i` (empty when there is none).
    pub fn name(&self, i: usize) -> String {
        self.read()
            .get(i)
            .map(|(s, _)| s.name.clone())
            .unwrap_or_default()
    }

    /// Entry `i`'s revision (0 when there is none).
    pub fn revision(&self, i: usize) -> u64 {
        self.read().get(i).map_or(0, |e| e.1)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `style`; returns its index.
    pub fn push(&self, style: StyleChoice) -> usize {
        let mut e = self.write();
        e.push((style, 0));
        e.len() - 1
    }

    /// Revises entry `i` (workers running it reload). Out of range: nothing happens.
    pub fn replace(&self, i: usize, style: StyleChoice) {
        if let Some(e) = self.write().get_mut(i) {
            *e = (style, e.1 + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::styles::StyleEntry;
    use std::path::Path;

    #[test]
    fn grows_and_revises() {
        let list = StyleList::new(vec![StyleEntry::picture(Path::new("a.png"))]);
        assert_eq!(list.push(StyleEntry::picture(Path::new("b.png"))), 1);
        assert_eq!((list.len(), list.name(1).as_str()), (2, "b"));
        assert_eq!(list.revision(1), 0);
        list.replace(1, StyleEntry::picture(Path::new("c.png")));
        assert_eq!((list.name(1).as_str(), list.revision(1)), ("c", 1));
        list.replace(7, StyleEntry::picture(Path::new("d.png")));
        assert_eq!(list.len(), 2);
        assert!(list.get(7).is_none());
    }
}
