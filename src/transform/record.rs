//! Records: the submissions a scrape makes, in the order the stock check makes them.

use std::sync::Arc;

use crate::number::PyNum;

/// The AgentCheck submission method a metric record goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Gauge,
    Rate,
    MonotonicCount,
}

/// One submission, in the order the stock check makes them. Kept small (the payloads of the rare
/// kinds are boxed): a scrape makes one per metric.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A metric of a cached series: its method, name, tags and hostname are the emission in
    /// `slot` of the transformer's series cache (`Transformer::emission`).
    Cached {
        slot: u32,
        value: f64,
    },
    Metric(Box<MetricRecord>),
    /// `submit_histogram_bucket` (distribution mode).
    Bucket(Box<BucketRecord>),
    /// A `service_check` transformer sample; its tags are the static tags only.
    ServiceCheck(Box<ServiceCheckRecord>),
    /// A `metadata` transformer sample: `set_metadata(name, value, **modifiers of id)`.
    Metadata(Box<MetadataRecord>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricRecord {
    pub method: Method,
    pub name: Arc<str>,
    pub value: f64,
    pub tags: Arc<TagList>,
    pub hostname: Arc<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BucketRecord {
    pub name: Arc<str>,
    /// The decumulated count as the stock check hands it over: an exact integer when the
    /// samples were integers, else a float (which `submit_histogram_bucket` truncates).
    pub value: PyNum,
    pub lower: f64,
    pub upper: f64,
    pub tags: TagList,
    pub hostname: String,
    /// `collect_histograms_as_distributions`: the multi-bucket API.
    pub multiple: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCheckRecord {
    pub name: Arc<str>,
    pub status: u8,
    pub hostname: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetadataRecord {
    pub id: u32,
    pub name: Arc<str>,
    pub value: String,
}

impl Record {
    /// A metric record of its own (not a cached series) with the sample's label tags and the
    /// static tags.
    pub fn metric(
        method: Method,
        name: &Arc<str>,
        value: f64,
        tags: Vec<String>,
        hostname: String,
    ) -> Record {
        Record::Metric(Box::new(MetricRecord {
            method,
            name: name.clone(),
            value,
            tags: Arc::new(TagList {
                labels: tags,
                with_static: true,
                suffix: None,
            }),
            hostname: Arc::from(hostname),
        }))
    }
}

/// The tags of one record: label tags, then (when `with_static`) the scraper's static tags, then
/// the optional suffix tag (`lower_bound:` of non-cumulative buckets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TagList {
    pub labels: Vec<String>,
    pub with_static: bool,
    pub suffix: Option<String>,
}

impl TagList {
    /// The full tag list as the stock check builds it.
    pub fn full(&self, static_tags: &[String]) -> Vec<String> {
        let mut out = self.labels.clone();
        if self.with_static {
            out.extend(static_tags.iter().cloned());
        }
        if let Some(s) = &self.suffix {
            out.push(s.clone());
        }
        out
    }
}
