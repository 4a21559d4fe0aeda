//! The confusion matrix as an SVG heatmap.
//!
//! Each cell is shaded by its share of its row (the reference protocol's
//! flows), from white to dark blue, and shows the flow count. Cells on
//! the diagonal (agreement, and `other` against `other, right`) have a
//! dark outline.

use std::fmt::Write as _;

use super::metrics::Confusion;

const CELL: usize = 44;
/// Approximate width of one character at the 11 px font, for the margins.
const CHAR_WIDTH: usize = 7;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Interpolates white to a dark blue by `t` in 0..1.
fn shade(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 8.0),
        mix(255.0, 48.0),
        mix(255.0, 107.0)
    )
}

/// The SVG document for `c`, titled `title`.
pub fn heatmap(c: &Confusion, title: &str) -> String {
    // Margins wide enough for the longest row name, and tall enough for the
    // longest column name written at 60 degrees below the title.
    let longest = |names: &[String]| names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let label = 12 + CHAR_WIDTH * longest(&c.rows).max(4);
    let top = 36 + (CHAR_WIDTH * longest(&c.columns).max(4)) * 87 / 100;
    let w = label + CELL * c.columns.len() + 20 + CHAR_WIDTH * longest(&c.columns) / 2;
    let h = top + CELL * c.rows.len() + 40;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="8" y="18" font-size="13" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="8" y="{}" fill="#555">rows: reference, columns: candidate; shade: share of the row</text>"##,
        h - 12
    );
    for (j, col) in c.columns.iter().enumerate() {
        let x = label + j * CELL + CELL / 2;
        let y = top - 6;
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{y}" transform="rotate(-60 {x} {y})">{}</text>"#,
            escape(col)
        );
    }
    for (i, (row, cells)) in c.rows.iter().zip(&c.cells).enumerate() {
        let y = top + i * CELL;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            label - 6,
            y + CELL / 2 + 4,
            escape(row)
        );
        let total: u64 = cells.iter().sum();
        for (j, &n) in cells.iter().enumerate() {
            let x = label + j * CELL;
            let share = if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            };
            let diagonal = c.agrees(i, j);
            let stroke = if diagonal { "#000" } else { "#ddd" };
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{}" stroke="{stroke}"><title>{} as {}: {n}</title></rect>"#,
                shade(share),
                escape(row),
                escape(&c.columns[j])
            );
            if n > 0 {
                let fill = if share > 0.5 { "white" } else { "black" };
                let _ = writeln!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle" fill="{fill}">{n}</text>"#,
                    x + CELL / 2,
                    y + CELL / 2 + 4
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
