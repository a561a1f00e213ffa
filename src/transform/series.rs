//! The series cache: what each series (transformer scope, sample name, label block) emits is
//! worked out once and reused by later scrapes while the series stays the same, so a steady
//! scrape parses no labels and builds no tags.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use super::record::{Method, TagList};

/// How a cached emission's value follows from the sample value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueOp {
    Same,
    /// `time_elapsed`: now minus the value.
    Elapsed,
    /// `temporal_percent`: value / scale * 100.
    Percent(f64),
}

impl ValueOp {
    /// The emitted value of a sample value, `now` being the scrape's clock in seconds.
    #[inline]
    pub fn apply(self, value: f64, now: f64) -> f64 {
        match self {
            ValueOp::Same => value,
            ValueOp::Elapsed => now - value,
            ValueOp::Percent(scale) => value / scale * 100.0,
        }
    }
}

/// One metric a series emits, all but the value.
#[derive(Clone, Debug)]
pub struct Emission {
    pub method: Method,
    pub name: Arc<str>,
    pub tags: Arc<TagList>,
    pub hostname: Arc<str>,
}

/// What a series does: whether it counts as processed (telemetry) and what it emits: the
/// emissions in slots `first_slot..first_slot + count`, each with the value derived by `op`.
#[derive(Clone, Copy, Debug)]
pub struct SeriesEntry {
    pub processed: bool,
    pub count: u8,
    pub op: ValueOp,
    pub first_slot: u32,
}

/// A seeded 64-bit hash (folded multiply) for series keys: much cheaper than SipHash on the
/// short keys of a scrape, and seeded per process so keys cannot be chosen to collide.
#[derive(Clone, Copy)]
pub struct SeriesHash {
    seed: u64,
}

impl SeriesHash {
    fn new() -> Self {
        // the std hasher's per-process random keys are the seed
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x9e37_79b9_u64);
        SeriesHash { seed: seed | 1 }
    }
}

pub struct SeriesHasher {
    state: u64,
}

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let wide = u128::from(a).wrapping_mul(u128::from(b));
    (wide as u64) ^ ((wide >> 64) as u64)
}

impl Hasher for SeriesHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.state = fold(self.state ^ u64::from_le_bytes(word), MUL);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.state = fold(
                self.state ^ u64::from_le_bytes(word),
                MUL ^ rest.len() as u64,
            );
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.state = fold(self.state ^ n as u64, MUL);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold(self.state, MUL.rotate_left(17))
    }
}

impl BuildHasher for SeriesHash {
    type Hasher = SeriesHasher;

    fn build_hasher(&self) -> SeriesHasher {
        SeriesHasher { state: self.seed }
    }
}

/// Cached series past this many bytes (keys and tags, estimated), or past this many series, fill
/// the cache: series beyond it are transformed afresh every scrape, and the cache starts over at
/// the next scrape. (A NIM serving 500 models has about 50,000 series.)
const CACHE_BYTES_LIMIT: usize = 64 << 20;
const CACHE_SERIES_LIMIT: usize = 200_000;

/// A cached series: its key in `arena`, and its entry.
struct Cached {
    start: usize,
    len: usize,
    entry: SeriesEntry,
}

/// Series in the order they were first seen, their keys packed in one buffer in that order. A
/// scrape usually lists its series in the same order as the one before, so each lookup first tries
/// the series that followed the previous hit: a short compare on memory read in sequence, with
/// no hashing. Anything else goes through the hash index.
pub struct SeriesCache {
    series: Vec<Cached>,
    arena: Vec<u8>,
    /// The index in `series` the next lookup tries first.
    cursor: usize,
    map: HashMap<Box<[u8]>, usize, SeriesHash>,
    /// Scope (family type, transformer, family name) → its id in series keys.
    scopes: HashMap<String, u32>,
    key: Vec<u8>,
    bytes: usize,
    /// Emissions by slot: a slot is a stable index until the cache starts over (`generation`
    /// changes), under which the bindings keep an emission's Python objects.
    emissions: Vec<Emission>,
    /// Bumped whenever the cache starts over, so holders of slot-indexed data drop theirs.
    pub generation: u64,
    /// Series of the cache the current scrape used (found or added).
    hits: usize,
    /// The byte limit was reached during this scrape: nothing more is cached until it ends.
    full: bool,
    /// The cache starts over at the next scrape.
    reset_pending: bool,
}

impl Default for SeriesCache {
    fn default() -> Self {
        SeriesCache {
            series: Vec::new(),
            arena: Vec::new(),
            cursor: 0,
            map: HashMap::with_hasher(SeriesHash::new()),
            scopes: HashMap::new(),
            key: Vec::new(),
            bytes: 0,
            emissions: Vec::new(),
            generation: 0,
            hits: 0,
            full: false,
            reset_pending: false,
        }
    }
}

/// Whether a packed key is (scope, sample name, label block).
#[inline]
fn key_matches(key: &[u8], scope: u32, sample_name: &str, label_text: &str) -> bool {
    key.len() == 8 + sample_name.len() + label_text.len()
        && key.get(..4) == Some(&scope.to_le_bytes()[..])
        && key.get(4..8) == Some(&(sample_name.len() as u32).to_le_bytes()[..])
        && key.get(8..8 + sample_name.len()) == Some(sample_name.as_bytes())
        && key.get(8 + sample_name.len()..) == Some(label_text.as_bytes())
}

impl SeriesCache {
    /// The id of a transformer scope; the same scope gets the same id until the cache starts over.
    pub fn scope(&mut self, scope: String) -> u32 {
        let next = self.scopes.len() as u32;
        *self.scopes.entry(scope).or_insert(next)
    }

    fn set_key(&mut self, scope: u32, sample_name: &str, label_text: &str) {
        self.key.clear();
        self.key.extend_from_slice(&scope.to_le_bytes());
        self.key
            .extend_from_slice(&(sample_name.len() as u32).to_le_bytes());
        self.key.extend_from_slice(sample_name.as_bytes());
        self.key.extend_from_slice(label_text.as_bytes());
    }

    #[inline]
    pub fn get(&mut self, scope: u32, sample_name: &str, label_text: &str) -> Option<SeriesEntry> {
        if let Some(cached) = self.series.get(self.cursor) {
            let key = self.arena.get(cached.start..cached.start + cached.len);
            if key.is_some_and(|key| key_matches(key, scope, sample_name, label_text)) {
                self.cursor += 1;
                self.hits += 1;
                return Some(cached.entry);
            }
        }
        self.set_key(scope, sample_name, label_text);
        let index = *self.map.get(self.key.as_slice())?;
        self.cursor = index + 1;
        self.hits += 1;
        self.series.get(index).map(|c| c.entry)
    }

    /// The emission in `slot` (a slot of the current generation).
    #[inline]
    pub fn emission(&self, slot: u32) -> Option<&Emission> {
        self.emissions.get(slot as usize)
    }

    /// Caches what a series emits; returns the slot of its first emission, or `None` when the
    /// cache is full for the rest of this scrape.
    pub fn insert(
        &mut self,
        scope: u32,
        sample_name: &str,
        label_text: &str,
        processed: bool,
        op: ValueOp,
        emissions: &[Emission],
    ) -> Option<u32> {
        self.set_key(scope, sample_name, label_text);
        let tag_bytes: usize = emissions
            .iter()
            .map(|e| 96 + e.tags.labels.iter().map(|t| t.len() + 32).sum::<usize>())
            .sum();
        let bytes = self.key.len() + 64 + tag_bytes;
        let first_slot = u32::try_from(self.emissions.len()).ok()?;
        let count = u8::try_from(emissions.len()).ok()?;
        if self.full
            || self.bytes + bytes > CACHE_BYTES_LIMIT
            || self.series.len() >= CACHE_SERIES_LIMIT
        {
            self.full = true;
            return None;
        }
        self.bytes += 2 * self.key.len() + bytes;
        self.emissions.extend_from_slice(emissions);
        let entry = SeriesEntry {
            processed,
            count,
            op,
            first_slot,
        };
        let index = self.series.len();
        self.series.push(Cached {
            start: self.arena.len(),
            len: self.key.len(),
            entry,
        });
        self.arena.extend_from_slice(&self.key);
        self.map.insert(self.key.as_slice().into(), index);
        self.hits += 1;
        self.cursor = index + 1;
        Some(first_slot)
    }

    /// End of a scrape: a cache whose series were mostly not seen again (series that went away,
    /// or a full cache while the series changed) starts over at the next scrape, so that it
    /// follows the live series and stays within a small multiple of them. Nothing is dropped
    /// during a scrape, nor before the records of a scrape have been read: slots and scope ids
    /// stay valid until `begin_scrape`.
    pub fn end_scrape(&mut self) {
        let stale = self.map.len() > 1024 && self.hits * 2 < self.map.len();
        self.reset_pending |= stale || self.scopes.len() > 100_000;
        self.hits = 0;
        self.cursor = 0;
    }

    /// Start of a scrape: applies a pending reset (a new `generation`).
    pub fn begin_scrape(&mut self) {
        if self.reset_pending {
            self.map.clear();
            self.series.clear();
            self.arena.clear();
            self.scopes.clear();
            self.emissions.clear();
            self.bytes = 0;
            self.full = false;
            self.reset_pending = false;
            self.generation += 1;
        }
        self.hits = 0;
        self.cursor = 0;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emission(name: &str) -> Emission {
        Emission {
            method: Method::Gauge,
            name: Arc::from(name),
            tags: Arc::new(TagList::default()),
            hostname: Arc::from(""),
        }
    }

    fn scrape(cache: &mut SeriesCache, series: &[&str]) -> Vec<Option<u32>> {
        cache.begin_scrape();
        let scope = cache.scope("g".into());
        let out = series
            .iter()
            .map(|labels| match cache.get(scope, "g", labels) {
                Some(entry) => Some(entry.first_slot),
                None => cache.insert(scope, "g", labels, true, ValueOp::Same, &[emission(labels)]),
            })
            .collect();
        cache.end_scrape();
        out
    }

    fn names(cache: &SeriesCache, slots: &[Option<u32>]) -> Vec<String> {
        slots
            .iter()
            .map(|s| cache.emission(s.unwrap()).unwrap().name.to_string())
            .collect()
    }

    #[test]
    fn same_series_same_slots_in_any_order() {
        let mut cache = SeriesCache::default();
        let first = scrape(&mut cache, &["a", "b", "c"]);
        let again = scrape(&mut cache, &["a", "b", "c"]);
        assert_eq!(first, again);
        let reordered = scrape(&mut cache, &["c", "a", "d", "b"]);
        assert_eq!(names(&cache, &reordered), ["c", "a", "d", "b"]);
        assert_eq!(reordered[0], first[2]);
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn key_parts_do_not_run_together() {
        let mut cache = SeriesCache::default();
        let scope = cache.scope("s".into());
        cache.insert(scope, "ab", "c", true, ValueOp::Same, &[emission("1")]);
        assert!(cache.get(scope, "a", "bc").is_none());
        assert!(cache.get(scope, "ab", "c").is_some());
        let other = cache.scope("t".into());
        assert!(cache.get(other, "ab", "c").is_none());
    }

    #[test]
    fn stale_cache_starts_over_at_the_next_scrape_only() {
        let mut cache = SeriesCache::default();
        let many: Vec<String> = (0..3000).map(|i| format!("m=\"{i}\"")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        scrape(&mut cache, &many);
        let generation = cache.generation;
        // a scrape that sees few series still resolves its slots after it ends
        let few = scrape(&mut cache, &["x", "y"]);
        assert_eq!(names(&cache, &few), ["x", "y"]);
        assert_eq!(cache.generation, generation);
        // the reset happens when the next scrape begins
        let next = scrape(&mut cache, &["x", "y"]);
        assert_eq!(cache.generation, generation + 1);
        assert_eq!(cache.len(), 2);
        assert_eq!(names(&cache, &next), ["x", "y"]);
    }
}
