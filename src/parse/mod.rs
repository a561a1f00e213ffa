//! The two exposition parsers: Prometheus text 0.0.4 and OpenMetrics 1.0, each turning a body
//! into families (`crate::model`) handed over one at a time.

pub mod openmetrics;
pub mod prom;

use crate::error::ScrapeResult;
use crate::lex::Lines;
use crate::model::Family;

/// Where a parser hands each family as soon as it is complete; an error stops the parser.
pub type Sink<'a, 'f> = dyn FnMut(Family<'a>) -> ScrapeResult<()> + 'f;

/// Once a parser has read every line: the error that stopped the lines early (a line too long,
/// a failed line filter), if one did. Both parsers then hand over the family they were reading.
fn end_of_lines(lines: &mut Lines<'_>) -> ScrapeResult<()> {
    match lines.take_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
