//! The supervisor's chart of daily verifications by outcome, laid out on the server.
//!
//! This module computes numbers only (positions, sizes, counts); the template draws
//! them as inline SVG, so the page needs no script and no outside resource, and every
//! piece of text goes through Tera's escaping.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::app::audit::stats::DayCount;
use crate::domain::code::Code;
use crate::domain::outcome::Outcome;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 24.0;

/// One colour per outcome, in `Outcome::ALL` order (also the stacking order).
const COLOURS: [&str; 6] = [
    "#0b6b2f", "#a11d1d", "#b7791f", "#6b21a8", "#be185d", "#4b5563",
];

#[derive(Debug, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub baseline: f64,
    pub total: i64,
    pub from: String,
    pub to: String,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub labels: Vec<Label>,
    pub legend: Vec<Legend>,
    /// The same numbers as a table, for screen readers and for copying.
    pub rows: Vec<TableRow>,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub segments: Vec<Segment>,
}

#[derive(Debug, Serialize)]
pub struct Segment {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub colour: &'static str,
    /// Tooltip: `4月10日 確認済み 12件`.
    pub title: String,
}

#[derive(Debug, Serialize)]
pub struct Tick {
    pub y: f64,
    pub value: i64,
}

#[derive(Debug, Serialize)]
pub struct Label {
    pub x: f64,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Legend {
    pub x: f64,
    pub colour: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Serialize)]
pub struct TableRow {
    pub day: String,
    pub counts: Vec<i64>,
    pub total: i64,
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v` (at least 1): a readable axis top.
fn nice_max(v: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * step >= v {
                return m * step;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn month_day(d: NaiveDate) -> String {
    format!("{}/{}", d.month(), d.day())
}

/// Lays out the days `from..=to` (at most a few months; the caller bounds it).
pub fn daily(counts: &[DayCount], from: NaiveDate, to: NaiveDate) -> Chart {
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let mut by_day: HashMap<(String, Outcome), i64> = HashMap::new();
    for c in counts {
        *by_day.entry((c.day.clone(), c.outcome)).or_default() += c.n;
    }
    let rows: Vec<TableRow> = days
        .iter()
        .map(|d| {
            let key = d.format("%Y-%m-%d").to_string();
            let counts: Vec<i64> = Outcome::ALL
                .iter()
                .map(|o| by_day.get(&(key.clone(), *o)).copied().unwrap_or(0))
                .collect();
            TableRow {
                day: key,
                total: counts.iter().sum(),
                counts,
            }
        })
        .collect();
    let top = nice_max(rows.iter().map(|r| r.total).max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let baseline = HEIGHT - BOTTOM;
    let slot = plot_w / days.len().max(1) as f64;
    let bar_w = round1((slot * 0.7).max(1.0));
    let bars = days
        .iter()
        .zip(&rows)
        .enumerate()
        .map(|(i, (d, row))| {
            let x = round1(LEFT + slot * i as f64 + (slot - bar_w) / 2.0);
            let mut y = baseline;
            let segments = Outcome::ALL
                .iter()
                .zip(&row.counts)
                .zip(COLOURS)
                .filter(|((_, n), _)| **n > 0)
                .map(|((o, n), colour)| {
                    let h = *n as f64 / top as f64 * plot_h;
                    y -= h;
                    Segment {
                        x,
                        y: round1(y),
                        w: bar_w,
                        h: round1(h.max(0.5)),
                        colour,
                        title: format!("{}月{}日 {} {}件", d.month(), d.day(), o.banner(), n),
                    }
                })
                .collect();
            Bar { segments }
        })
        .collect();
    let ticks = [0, top / 2, top]
        .into_iter()
        .map(|v| Tick {
            y: round1(baseline - v as f64 / top as f64 * plot_h),
            value: v,
        })
        .collect();
    let every = days.len().div_ceil(10).max(1);
    let labels = days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, d)| Label {
            x: round1(LEFT + slot * i as f64 + slot / 2.0),
            text: month_day(*d),
        })
        .collect();
    // Each entry is as wide as its label (about 12 px a full-width character plus the
    // swatch), so the long 保証事業会社に接続できません still fits inside the chart.
    let mut x = LEFT;
    let legend = Outcome::ALL
        .iter()
        .zip(COLOURS)
        .map(|(o, colour)| {
            let entry = Legend {
                x,
                colour,
                label: o.banner(),
            };
            x += 24.0 + 12.0 * o.banner().chars().count() as f64;
            entry
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        plot_left: LEFT,
        plot_right: WIDTH - RIGHT,
        baseline,
        total: rows.iter().map(|r| r.total).sum(),
        from: kakunin_protocol::format::date_ja(from),
        to: kakunin_protocol::format::date_ja(to),
        bars,
        ticks,
        labels,
        legend,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(day: &str, outcome: Outcome, n: i64) -> DayCount {
        DayCount {
            day: day.into(),
            outcome,
            n,
        }
    }

    #[test]
    fn stacks_each_day_inside_the_plot() {
        let from = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2025, 4, 30).unwrap();
        let c = daily(
            &[
                count("2025-04-02", Outcome::Verified, 7),
                count("2025-04-02", Outcome::NotFound, 3),
                count("2025-04-30", Outcome::Locked, 1),
            ],
            from,
            to,
        );
        assert_eq!(c.bars.len(), 30);
        assert_eq!(c.total, 11);
        assert_eq!(c.ticks.last().unwrap().value, 10);
        let day2 = &c.bars[1].segments;
        assert_eq!(day2.len(), 2);
        assert!(day2
            .iter()
            .all(|s| s.y >= TOP - 0.1 && s.y + s.h <= c.baseline + 0.1));
        assert!(day2[0].title.contains("確認済み 7件"));
        assert!(c.bars[0].segments.is_empty());
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(1000), 1000);
    }
}
