//! How many output panes fit: on a small terminal, tiles too small to read
//! are worse than fewer tiles, so the list is cut to what keeps each one
//! useful (the selected pane always stays). The rest are a selection away
//! in the processes panel.
use ratatui::layout::Rect;

use crate::tui::msg::ProcKey;

/// Smallest useful tile: borders plus five lines of output.
pub const MIN_HEIGHT: u16 = 7;
/// Borders plus room for a command in the title and a line of output.
pub const MIN_WIDTH: u16 = 24;

/// Columns and rows of the grid for `n` tiles, as the panes are laid out:
/// up to three side by side, more in a square-ish grid.
pub fn grid(n: usize) -> (usize, usize) {
    let cols = if n <= 3 {
        n
    } else {
        (n as f64).sqrt().ceil() as usize
    };
    (cols.max(1), n.div_ceil(cols.max(1)))
}

/// The panes to draw in `area`: as many of `keys` as fit at the minimum
/// size, always including `selected`, in their order. Never empty when
/// `keys` is not.
pub fn fit(keys: Vec<ProcKey>, selected: Option<ProcKey>, area: Rect) -> Vec<ProcKey> {
    let fits = |n: usize| {
        let (cols, rows) = grid(n);
        area.width / cols as u16 >= MIN_WIDTH && area.height / rows as u16 >= MIN_HEIGHT
    };
    let n = (1..=keys.len()).rev().find(|&n| fits(n)).unwrap_or(1);
    if n >= keys.len() {
        return keys;
    }
    // The selected pane and those started closest to it.
    let at = selected
        .and_then(|s| keys.iter().position(|k| *k == s))
        .unwrap_or(keys.len() - 1);
    let start = at.saturating_sub(n - 1).min(keys.len() - n);
    keys[start..start + n].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_areas_get_fewer_tiles_with_the_selected_one() {
        let big = Rect::new(0, 0, 160, 40);
        assert_eq!(fit(vec![1, 2, 3, 4], Some(1), big), vec![1, 2, 3, 4]);
        // 80x12: two rows of 6 are too short, one row of three fits.
        let small = Rect::new(0, 0, 80, 12);
        assert_eq!(fit(vec![1, 2, 3, 4], Some(4), small), vec![2, 3, 4]);
        assert_eq!(fit(vec![1, 2, 3, 4], Some(1), small), vec![1, 2, 3]);
        let tiny = Rect::new(0, 0, 30, 5);
        assert_eq!(fit(vec![1, 2, 3], Some(2), tiny), vec![2]);
        assert_eq!(fit(vec![], None, tiny), Vec::<ProcKey>::new());
    }
}
