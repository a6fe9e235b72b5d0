//! A fixed-size log-linear latency histogram in microseconds.
//!
//! Values below 128 µs have a bucket each; above, every power of two is split into 128 equal
//! buckets, so a reported value is within 1/256 (0.4 %) of the true one. Values are clamped
//! to about 73 minutes. Recording is an index computation and an increment, cheap enough to do
//! on every request; each connection keeps its own histogram and they are merged at the end.

/// Sub-buckets per power of two, as a bit count.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// The largest recordable value (2^32 - 1 µs).
const MAX_VALUE: u64 = (1 << 32) - 1;
const BUCKETS: usize = ((32 - SUB_BITS + 1) as usize) << SUB_BITS;

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], total: 0, sum: 0, max: 0 }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let sub = (v >> shift) - SUB; // 0..SUB
    (((shift + 1) as usize) << SUB_BITS) + sub as usize
}

/// The middle of bucket `i`.
fn value_at(i: usize) -> u64 {
    if (i as u64) < SUB {
        return i as u64;
    }
    let shift = (i >> SUB_BITS) as u32 - 1;
    let sub = (i as u64) & (SUB - 1);
    let low = (SUB + sub) << shift;
    low + ((1u64 << shift) - 1) / 2
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        let v = micros.min(MAX_VALUE);
        self.counts[index(v)] += 1;
        self.total += 1;
        self.sum += v;
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.sum as f64 / self.total as f64 }
    }

    /// The value at quantile `q` (0..=1): the smallest bucket holding at least `q` of the values.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_at(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_accurate() {
        let mut last = 0;
        for v in [0u64, 1, 127, 128, 129, 255, 256, 257, 1000, 65_535, 1_000_000, MAX_VALUE] {
            let i = index(v);
            assert!(i >= last && i < BUCKETS, "{v}");
            last = i;
            let m = value_at(i);
            let err = (m as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(err <= 1.0 / 256.0 + 1e-9, "{v} -> {m}");
        }
        // every bucket boundary maps back to its own bucket
        for i in 0..BUCKETS {
            assert_eq!(index(value_at(i)), i);
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.quantile(0.5), 500);
        let p99 = h.quantile(0.99);
        assert!((988..=992).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0), 1000);
        let mut g = Histogram::default();
        g.record(5000);
        h.merge(&g);
        assert_eq!(h.max(), 5000);
        assert_eq!(h.quantile(1.0), 5000);
        assert!((h.mean() - (500_500.0 + 5000.0) / 1001.0).abs() < 1e-6);
    }
}
