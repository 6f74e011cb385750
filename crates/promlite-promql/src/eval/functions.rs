//! Pure numeric kernels of PromQL functions and aggregations, over plain samples
//! and values. Each follows the Prometheus 3 definition; the § numbers below
//! are sections of the project's PromQL semantics notes.

use promlite_model::Sample;

/// One Kahan–Neumaier step (§9.2): adds `inc` to the running `(sum, c)`.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Extrapolated `rate`/`increase`/`delta` (§8.1). `samples` are the window's
/// samples (staleness markers removed), `range_start`/`range_end` the window
/// bounds in ms. `is_counter` enables reset correction and the zero clamp,
/// `is_rate` divides by the range. `None` when fewer than two samples.
pub(crate) fn extrapolated_rate(
    samples: &[Sample],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let first = samples[0];
    let last = samples[samples.len() - 1];
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for s in &samples[1..] {
            if s.v < prev {
                result += prev;
            }
            prev = s.v;
        }
    }
    let mut d_start = (first.t - range_start) as f64 / 1000.0;
    let mut d_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = sampled / (samples.len() - 1) as f64;
    let threshold = avg * 1.1;
    if d_start >= threshold {
        d_start = avg / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let d_zero = sampled * (first.v / result);
        if d_zero < d_start {
            d_start = d_zero;
        }
    }
    if d_end >= threshold {
        d_end = avg / 2.0;
    }
    let mut factor = (sampled + d_start + d_end) / sampled;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` (`is_rate`) and `idelta` (§8.2) over the last two samples.
pub(crate) fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let a = samples[samples.len() - 2];
    let b = samples[samples.len() - 1];
    let mut r = if is_rate && b.v < a.v { b.v } else { b.v - a.v };
    let dt = b.t - a.t;
    if dt == 0 {
        return None;
    }
    if is_rate {
        r /= dt as f64 / 1000.0;
    }
    Some(r)
}

/// Least-squares regression (§8.3) with x measured in seconds from
/// `intercept_time` (ms). Returns `(slope, intercept)`. Needs ≥ 1 sample.
pub(crate) fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = samples.first().map_or(f64::NAN, |s| s.v);
    let mut const_y = true;
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// `double_exponential_smoothing(v, sf, tf)` (Holt's linear method; needs ≥ 2
/// samples): level s and trend b, starting at s = v₀, b = v₁ − v₀.
pub(crate) fn double_exponential_smoothing(samples: &[Sample], sf: f64, tf: f64) -> f64 {
    let (mut s0, mut s1) = (0.0, samples[0].v);
    let mut b = samples[1].v - samples[0].v;
    for (i, x) in samples.iter().enumerate().skip(1) {
        let level = sf * x.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = level + y;
    }
    s1
}

/// `sum_over_time` (§8.4).
pub(crate) fn sum_values(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for v in vals {
        (sum, c) = kahan_inc(v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// Mean with compensated summation and overflow fallback (`avg_over_time`, `avg`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MeanAcc {
    sum: f64,
    c: f64,
    mean: f64,
    count: f64,
    incremental: bool,
}

impl MeanAcc {
    /// Adds a value.
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        if self.count == 0.0 {
            self.sum = v;
            self.count = 1.0;
            return;
        }
        self.count += 1.0;
        if !self.incremental {
            let (ns, nc) = kahan_inc(v, self.sum, self.c);
            if !ns.is_infinite() {
                self.sum = ns;
                self.c = nc;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        (self.mean, self.c) = kahan_inc(v / self.count, q * self.mean, q * self.c);
    }
    /// The mean of the values added so far (NaN if none).
    pub(crate) fn value(&self) -> f64 {
        if self.count == 0.0 {
            f64::NAN
        } else if self.incremental {
            self.mean + self.c
        } else {
            self.sum / self.count + self.c / self.count
        }
    }
}

/// `min_over_time` (`max = false`) / `max_over_time`: NaN only if all are NaN.
pub(crate) fn min_max(vals: impl Iterator<Item = f64>, max: bool) -> f64 {
    let mut best = f64::NAN;
    let mut first = true;
    for v in vals {
        if first {
            best = v;
            first = false;
        } else if (if max { v > best } else { v < best }) || best.is_nan() {
            best = v;
        }
    }
    best
}

/// Population variance with compensated Welford (`stdvar_over_time`; sqrt for stddev).
pub(crate) fn variance_over_time(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in vals {
        count += 1.0;
        let delta = v - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (v - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

/// Welford variance accumulator for the `stddev`/`stdvar` aggregations (§9.4).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct VarAcc {
    count: f64,
    mean: f64,
    acc: f64,
}

impl VarAcc {
    /// Adds a value.
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        if self.count == 0.0 {
            self.count = 1.0;
            self.mean = v;
            self.acc = if v.is_nan() || v.is_infinite() {
                f64::NAN
            } else {
                0.0
            };
            return;
        }
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.acc += delta * (v - self.mean);
    }
    /// Population variance.
    pub(crate) fn variance(&self) -> f64 {
        self.acc / self.count
    }
}

/// φ-quantile of `vals` (§9.5); sorts `vals` in place (NaN first).
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0);
    let hi = (lo + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    vals[lo as usize] * (1.0 - w) + vals[hi as usize] * w
}

/// `changes` (§8.4).
pub(crate) fn changes(samples: &[Sample]) -> f64 {
    let mut n = 0.0;
    for w in samples.windows(2) {
        let (p, c) = (w[0].v, w[1].v);
        if c != p && !(c.is_nan() && p.is_nan()) {
            n += 1.0;
        }
    }
    n
}

/// `resets` (§8.4).
pub(crate) fn resets(samples: &[Sample]) -> f64 {
    samples.windows(2).filter(|w| w[1].v < w[0].v).count() as f64
}

/// One classic histogram bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    /// Upper bound (`le`).
    pub(crate) upper: f64,
    /// Cumulative count.
    pub(crate) count: f64,
}

/// Go's `almost.Equal`: relative comparison with tolerance `eps`.
pub(crate) fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// Outcome of [`bucket_quantile`]: the value and which fixes were applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BucketQuantile {
    /// The quantile estimate.
    pub(crate) value: f64,
    /// Some bucket count had to be raised to make the counts monotonic.
    pub(crate) forced_monotonic: bool,
    /// The highest bucket is not `+Inf`.
    pub(crate) missing_inf: bool,
}

fn sort_and_coalesce(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(l) if l.upper == b.upper => l.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
}

fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else {
        return false;
    };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let cur = b.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            b.count = prev;
            continue;
        }
        if cur < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    forced
}

/// Go's `sort.Search`: the smallest i in [0, n) with `f(i)`, or n.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let h = lo + (hi - lo) / 2;
        if !f(h) {
            lo = h + 1;
        } else {
            hi = h;
        }
    }
    lo
}

/// `histogram_quantile` over classic buckets (§8.5 steps 2–11).
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> BucketQuantile {
    let mut out = BucketQuantile {
        value: f64::NAN,
        forced_monotonic: false,
        missing_inf: false,
    };
    if q.is_nan() {
        return out;
    }
    if q < 0.0 {
        out.value = f64::NEG_INFINITY;
        return out;
    }
    if q > 1.0 {
        out.value = f64::INFINITY;
        return out;
    }
    if buckets.is_empty() {
        return out;
    }
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    if buckets[buckets.len() - 1].upper != f64::INFINITY {
        out.missing_inf = true;
        return out;
    }
    sort_and_coalesce(buckets);
    out.forced_monotonic = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return out;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 {
        return out;
    }
    let mut rank = q * total;
    let b = go_search(buckets.len() - 1, |i| buckets[i].count >= rank);
    if b == buckets.len() - 1 {
        out.value = buckets[buckets.len() - 2].upper;
        return out;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        out.value = buckets[0].upper;
        return out;
    }
    let end = buckets[b].upper;
    let mut start = 0.0;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    out.value = start + (end - start) * (rank / count);
    out
}

/// `histogram_fraction(lower, upper)` over classic buckets: the share of
/// observations in `[lower, upper]`, interpolating linearly inside finite
/// buckets; the observations of a bucket of infinite width count as sitting at
/// its infinite end.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if buckets.is_empty() {
        return f64::NAN;
    }
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    if buckets[buckets.len() - 1].upper != f64::INFINITY {
        return f64::NAN;
    }
    sort_and_coalesce(buckets);
    ensure_monotonic(buckets);
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut prev_count = 0.0;
    for (i, b) in buckets.iter().enumerate() {
        let lo = if i > 0 {
            buckets[i - 1].upper
        } else if b.upper > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let hi = b.upper;
        let c = b.count - prev_count;
        prev_count = b.count;
        if hi <= lower || lo >= upper {
            continue;
        }
        if lower <= lo && hi <= upper {
            sum += c;
        } else if lo == f64::NEG_INFINITY {
            // Observations of an unbounded bucket sit at its infinite end.
            if lower == f64::NEG_INFINITY {
                sum += c;
            }
        } else if hi == f64::INFINITY {
            if upper == f64::INFINITY {
                sum += c;
            }
        } else {
            sum += c * (hi.min(upper) - lo.max(lower)) / (hi - lo);
        }
    }
    sum / total
}

/// `round(v, to)` (§8.6): ties toward +Inf, via the reciprocal.
pub(crate) fn round_to(v: f64, to: f64) -> f64 {
    let inv = 1.0 / to;
    (v * inv + 0.5).floor() / inv
}

/// `sgn(v)`.
pub(crate) fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// Go's `math.Max` (NaN if either is NaN; +0 beats −0).
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min` (NaN if either is NaN; −0 beats +0).
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// `clamp(v, lo, hi)` for `lo <= hi` (the caller drops everything when `hi < lo`).
pub(crate) fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    go_max(lo, go_min(hi, v))
}

/// A UTC calendar breakdown of a Unix time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    /// Year.
    pub(crate) year: i64,
    /// Month 1–12.
    pub(crate) month: u32,
    /// Day of month 1–31.
    pub(crate) day: u32,
    /// Hour 0–23.
    pub(crate) hour: u32,
    /// Minute 0–59.
    pub(crate) minute: u32,
    /// Day of week 0–6, Sunday = 0.
    pub(crate) weekday: u32,
    /// Day of year 1–366.
    pub(crate) yday: u32,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in `month` of `year`.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Breaks `secs` (Unix seconds) into UTC calendar fields.
pub(crate) fn civil_from_unix(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm, written from its description).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let cum = [0u32, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let mut yday = cum[(month - 1) as usize] + day;
    if month > 2 && is_leap(year) {
        yday += 1;
    }
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        minute: ((sod % 3600) / 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

/// Binary operators on two floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%` (fmod, Go `math.Mod`)
    Mod,
    /// `^` (Go `math.Pow`)
    Pow,
    /// `atan2`
    Atan2,
}

/// Applies an arithmetic operator with Go's float semantics (§10.2).
pub(crate) fn arith(op: ArithOp, l: f64, r: f64) -> f64 {
    match op {
        ArithOp::Add => l + r,
        ArithOp::Sub => l - r,
        ArithOp::Mul => l * r,
        ArithOp::Div => l / r,
        ArithOp::Mod => go_mod(l, r),
        ArithOp::Pow => go_pow(l, r),
        ArithOp::Atan2 => l.atan2(r),
    }
}

/// Go's `math.Mod`: result has the sign of `x`; NaN for `y == 0`, infinite `x`, NaN.
pub(crate) fn go_mod(x: f64, y: f64) -> f64 {
    if y == 0.0 || x.is_infinite() || x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    x % y
}

/// Go's `math.Pow` special cases on top of `powf`.
pub(crate) fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    // Go: Pow(-1, ±Inf) = 1; Rust's powf agrees. Everything else matches IEEE pow.
    x.powf(y)
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
}

/// IEEE comparison (NaN compares false except for `!=`).
pub(crate) fn compare(op: CmpOp, l: f64, r: f64) -> bool {
    match op {
        CmpOp::Eq => l == r,
        CmpOp::Ne => l != r,
        CmpOp::Gt => l > r,
        CmpOp::Lt => l < r,
        CmpOp::Ge => l >= r,
        CmpOp::Le => l <= r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pts: &[(i64, f64)]) -> Vec<Sample> {
        pts.iter().map(|&(t, v)| Sample { t, v }).collect()
    }

    #[test]
    fn kahan_recovers_cancelled_one() {
        // 1e100 + 1 - 1e100: naive gives 0, compensated gives 1.
        assert_eq!(sum_values([1e100, 1.0, -1e100].into_iter()), 1.0);
        assert_eq!(sum_values([f64::INFINITY, 1.0].into_iter()), f64::INFINITY);
    }

    #[test]
    fn rate_counter_aligned_window() {
        // Samples every 10 s at t=10..=50 s, values 10,20,...,50; window (0, 60 s].
        let w = s(&[
            (10_000, 10.0),
            (20_000, 20.0),
            (30_000, 30.0),
            (40_000, 40.0),
            (50_000, 50.0),
        ]);
        // result=40, sampled=40 s, avg=10 s, threshold 11 s. dStart=10 <11 keeps 10,
        // zero clamp: dZero=40*(10/40)=10, not < 10. dEnd=10 <11 keeps.
        // factor=(40+10+10)/40=1.5 → increase 60, rate 60/60 = 1.
        assert_eq!(extrapolated_rate(&w, 0, 60_000, true, false), Some(60.0));
        assert_eq!(extrapolated_rate(&w, 0, 60_000, true, true), Some(1.0));
        // delta: same without clamping.
        assert_eq!(extrapolated_rate(&w, 0, 60_000, false, false), Some(60.0));
        assert_eq!(extrapolated_rate(&w[..1], 0, 60_000, true, true), None);
    }

    #[test]
    fn rate_zero_clamp_and_threshold() {
        // Window (0, 100 s], samples at 50 s (v=1) and 60 s (v=11).
        // result=10, sampled 10 s, avg 10, threshold 11. dStart=50 ≥ 11 → 5.
        // dZero = 10*(1/10) = 1 < 5 → dStart=1. dEnd=40 ≥ 11 → 5.
        // factor = (10+1+5)/10 = 1.6; increase = 16.
        let w = s(&[(50_000, 1.0), (60_000, 11.0)]);
        assert_eq!(extrapolated_rate(&w, 0, 100_000, true, false), Some(16.0));
        // As a gauge (delta): dStart stays 5: factor 2 → 20.
        assert_eq!(extrapolated_rate(&w, 0, 100_000, false, false), Some(20.0));
    }

    #[test]
    fn rate_counter_reset() {
        // 5, 10, 2, 6 at 10,20,30,40 s; window (5 s, 45 s].
        // result = 6-5 = 1, + reset correction 10 → 11. sampled 30, avg 10, thr 11.
        // dStart=5, dZero=30*(5/11)=13.6 not < 5; dEnd=5. factor=(30+5+5)/30=4/3.
        let w = s(&[(10_000, 5.0), (20_000, 10.0), (30_000, 2.0), (40_000, 6.0)]);
        let got = extrapolated_rate(&w, 5_000, 45_000, true, false).unwrap();
        assert!((got - 11.0 * 40.0 / 30.0).abs() < 1e-12, "{got}");
    }

    #[test]
    fn irate_idelta() {
        let w = s(&[(0, 1.0), (10_000, 5.0), (15_000, 2.0)]);
        // reset: irate uses 2 / 5 s.
        assert_eq!(instant_value(&w, true), Some(0.4));
        assert_eq!(instant_value(&w, false), Some(-3.0));
        assert_eq!(instant_value(&w[..1], true), None);
    }

    #[test]
    fn regression() {
        // y = 2x + 1 with x in seconds from t0.
        let w = s(&[(0, 1.0), (1000, 3.0), (2000, 5.0), (3000, 7.0)]);
        let (slope, icpt) = linear_regression(&w, 0);
        assert_eq!(slope, 2.0);
        assert_eq!(icpt, 1.0);
        // intercept at t=3 s is 7; predict 10 s later: 7 + 20 = 27.
        let (slope, icpt) = linear_regression(&w, 3000);
        assert_eq!(icpt + slope * 10.0, 27.0);
        let c = s(&[(0, f64::INFINITY), (1000, f64::INFINITY)]);
        assert!(linear_regression(&c, 0).0.is_nan());
        let c = s(&[(0, 4.0), (1000, 4.0)]);
        assert_eq!(linear_regression(&c, 0), (0.0, 4.0));
    }

    #[test]
    fn double_exponential_smoothing_linear_data() {
        // On a straight line the smoothed level tracks the line exactly:
        // s1 = 1, b = 1; i=1: level 0.5*2 + 0.5*(1+1) = 2; i=2: b = 0.5*(2-1)+0.5*1 = 1,
        // s = 0.5*3 + 0.5*(2+1) = 3.
        let w = s(&[(0, 1.0), (1000, 2.0), (2000, 3.0)]);
        assert_eq!(double_exponential_smoothing(&w, 0.5, 0.5), 3.0);
    }

    #[test]
    fn over_time_family() {
        let mut m = MeanAcc::default();
        for v in [1.0, 2.0, 3.0, 4.0] {
            m.add(v);
        }
        assert_eq!(m.value(), 2.5);
        let mut m = MeanAcc::default();
        for v in [f64::MAX, f64::MAX, -f64::MAX] {
            m.add(v);
        }
        // mean of MAX, MAX, -MAX is MAX/3 (incremental fallback).
        assert!((m.value() - f64::MAX / 3.0).abs() / (f64::MAX / 3.0) < 1e-15);
        assert_eq!(min_max([f64::NAN, 3.0, 1.0].into_iter(), false), 1.0);
        assert_eq!(min_max([f64::NAN, 3.0, 1.0].into_iter(), true), 3.0);
        assert!(min_max([f64::NAN].into_iter(), true).is_nan());
        // population variance of 2,4,4,4,5,5,7,9 is 4.
        let v = variance_over_time([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_iter());
        assert_eq!(v, 4.0);
        let mut a = VarAcc::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            a.add(x);
        }
        assert_eq!(a.variance(), 4.0);
        let mut a = VarAcc::default();
        a.add(f64::INFINITY);
        assert!(a.variance().is_nan());
        assert_eq!(variance_over_time([3.0].into_iter()), 0.0);
    }

    #[test]
    fn quantiles() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        // rank = 0.5*3 = 1.5 → 2*0.5 + 3*0.5 = 2.5
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(0.0, &mut v), 1.0);
        assert_eq!(quantile(1.0, &mut v), 4.0);
        assert_eq!(quantile(-1.0, &mut v), f64::NEG_INFINITY);
        assert_eq!(quantile(2.0, &mut v), f64::INFINITY);
        let mut v = vec![1.0, f64::NAN];
        // NaN sorts first: q=0 → NaN.
        assert!(quantile(0.0, &mut v).is_nan());
    }

    #[test]
    fn changes_resets() {
        let w = s(&[
            (0, 1.0),
            (1, 1.0),
            (2, 2.0),
            (3, f64::NAN),
            (4, f64::NAN),
            (5, 0.0),
        ]);
        // 1→2 change, 2→NaN change, NaN→NaN no, NaN→0 change.
        assert_eq!(changes(&w), 3.0);
        // resets: none of the NaN comparisons is <, 1→1 no, 1→2 no.
        assert_eq!(resets(&w), 0.0);
        let w = s(&[(0, 3.0), (1, 1.0), (2, 2.0), (3, 0.0)]);
        assert_eq!(resets(&w), 2.0);
    }

    fn b(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn histogram_quantile_basic() {
        // Buckets 0.1:10, 0.2:20, +Inf:40; q=0.5 → rank 20 → bucket 0.2 (b=1):
        // 0.1 + 0.1 * (20-10)/(20-10) = 0.2.
        let mut bs = b(&[(f64::INFINITY, 40.0), (0.2, 20.0), (0.1, 10.0)]);
        let r = bucket_quantile(0.5, &mut bs);
        assert_eq!(r.value, 0.2);
        // q=0.25 → rank 10 → first bucket: 0 + 0.1*10/10 = 0.1
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 40.0)]);
        assert_eq!(bucket_quantile(0.25, &mut bs).value, 0.1);
        // q=0.9 → rank 36 > 20 → +Inf bucket → second highest bound 0.2
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 40.0)]);
        assert_eq!(bucket_quantile(0.9, &mut bs).value, 0.2);
        // q=0.125 → rank 5 → 0.1*5/10 = 0.05
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 40.0)]);
        assert_eq!(bucket_quantile(0.125, &mut bs).value, 0.05);
    }

    #[test]
    fn histogram_quantile_fixes() {
        // Missing +Inf → NaN with flag.
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0)]);
        let r = bucket_quantile(0.5, &mut bs);
        assert!(r.value.is_nan() && r.missing_inf);
        // Non-monotonic: 0.1:10, 0.2:5 (raised to 10), +Inf:20; q=0.5 → rank 10 → b=0:
        // 0.1*10/10 = 0.1, flagged.
        let mut bs = b(&[(0.1, 10.0), (0.2, 5.0), (f64::INFINITY, 20.0)]);
        let r = bucket_quantile(0.5, &mut bs);
        assert_eq!(r.value, 0.1);
        assert!(r.forced_monotonic);
        // Tiny relative difference is flattened silently.
        let mut bs = b(&[(0.1, 10.0), (0.2, 10.0 - 1e-14), (f64::INFINITY, 20.0)]);
        let r = bucket_quantile(0.5, &mut bs);
        assert!(!r.forced_monotonic);
        // Equal bounds are merged: 0.1:5 + 0.1:5 = 10.
        let mut bs = b(&[(0.1, 5.0), (0.1, 5.0), (f64::INFINITY, 20.0)]);
        assert_eq!(bucket_quantile(0.25, &mut bs).value, 0.05);
        // φ out of range wins over everything.
        let mut bs = b(&[(0.1, 5.0)]);
        assert_eq!(bucket_quantile(1.5, &mut bs).value, f64::INFINITY);
        // Total 0 → NaN.
        let mut bs = b(&[(0.1, 0.0), (f64::INFINITY, 0.0)]);
        assert!(bucket_quantile(0.5, &mut bs).value.is_nan());
        // Negative first bound returned as is.
        let mut bs = b(&[(-1.0, 10.0), (f64::INFINITY, 20.0)]);
        assert_eq!(bucket_quantile(0.2, &mut bs).value, -1.0);
    }

    #[test]
    fn histogram_fraction_classic() {
        // 0.1:10, 0.2:20, +Inf:40. fraction(0, 0.15) = rank(0.15)=15 / 40.
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 40.0)]);
        assert!((bucket_fraction(0.0, 0.15, &mut bs) - 15.0 / 40.0).abs() < 1e-15);
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 40.0)]);
        assert_eq!(bucket_fraction(0.2, f64::INFINITY, &mut bs), 0.5);
        let mut bs = b(&[(0.1, 10.0), (0.2, 20.0), (f64::INFINITY, 40.0)]);
        assert_eq!(bucket_fraction(1.0, 0.5, &mut bs), 0.0);
        // From upstream histograms.test: the (-Inf, -3] bucket only partly inside
        // [-4, -2] contributes nothing; (-3, -2] contributes 2 of 100.
        let mut bs = b(&[
            (-3.0, 10.0),
            (-2.0, 12.0),
            (-1.0, 15.0),
            (f64::INFINITY, 100.0),
        ]);
        assert_eq!(bucket_fraction(-4.0, -2.0, &mut bs), 0.02);
        // Single +Inf bucket: (0, +Inf] is partly inside [0, 1] → 0.
        let mut bs = b(&[(f64::INFINITY, 100.0)]);
        assert_eq!(bucket_fraction(0.0, 1.0, &mut bs), 0.0);
        // Upstream: [400, +Inf] takes the whole (3, +Inf] bucket: 94 of 100.
        let mut bs = b(&[(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (f64::INFINITY, 100.0)]);
        assert_eq!(bucket_fraction(400.0, f64::INFINITY, &mut bs), 0.94);
    }

    #[test]
    fn math_helpers() {
        assert_eq!(round_to(2.5, 1.0), 3.0);
        assert_eq!(round_to(-2.5, 1.0), -2.0);
        assert_eq!(round_to(1.234, 0.1), 1.2);
        assert_eq!(sgn(-3.0), -1.0);
        assert!(sgn(f64::NAN).is_nan());
        assert!(clamp(f64::NAN, 0.0, 1.0).is_nan());
        assert_eq!(clamp(5.0, 0.0, 1.0), 1.0);
        assert_eq!(go_mod(-7.0, 3.0), -1.0);
        assert!(go_mod(1.0, 0.0).is_nan());
        assert!(go_mod(f64::INFINITY, 2.0).is_nan());
        assert_eq!(go_pow(f64::NAN, 0.0), 1.0);
        assert_eq!(go_pow(1.0, f64::NAN), 1.0);
        assert!(go_pow(-8.0, 1.0 / 3.0).is_nan());
        assert!(compare(CmpOp::Ne, f64::NAN, f64::NAN));
        assert!(!compare(CmpOp::Eq, f64::NAN, f64::NAN));
    }

    #[test]
    fn civil_dates() {
        // 0 = Thu 1970-01-01 00:00.
        let c = civil_from_unix(0);
        assert_eq!(
            (c.year, c.month, c.day, c.weekday, c.yday),
            (1970, 1, 1, 4, 1)
        );
        // 2024-02-29T13:45:00Z = 1709214300 (leap day, Thursday, yday 60).
        let c = civil_from_unix(1_709_214_300);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.weekday, c.yday),
            (2024, 2, 29, 13, 45, 4, 60)
        );
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        // 1969-12-31T23:59:59Z = -1: Wednesday, yday 365.
        let c = civil_from_unix(-1);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.weekday, c.yday),
            (1969, 12, 31, 23, 3, 365)
        );
    }
}
