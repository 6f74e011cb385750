//! The function table: every PromQL function's name and signature.
//!
//! The parser uses it to type-check calls; the evaluator dispatches on each entry's
//! [`FunctionId`] (one exhaustive match sorts ids into families, so a function added
//! here does not compile until it is implemented or marked unsupported). Signatures follow
//! Prometheus 3 (`promql/parser/functions.go`).

use super::value_type::ValueType;

/// The identity of a PromQL function: one variant per [`FUNCTIONS`] entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FunctionId {
    /// `abs`
    Abs,
    /// `absent`
    Absent,
    /// `absent_over_time`
    AbsentOverTime,
    /// `acos`
    Acos,
    /// `acosh`
    Acosh,
    /// `asin`
    Asin,
    /// `asinh`
    Asinh,
    /// `atan`
    Atan,
    /// `atanh`
    Atanh,
    /// `avg_over_time`
    AvgOverTime,
    /// `ceil`
    Ceil,
    /// `changes`
    Changes,
    /// `clamp`
    Clamp,
    /// `clamp_max`
    ClampMax,
    /// `clamp_min`
    ClampMin,
    /// `cos`
    Cos,
    /// `cosh`
    Cosh,
    /// `count_over_time`
    CountOverTime,
    /// `day_of_month`
    DayOfMonth,
    /// `day_of_week`
    DayOfWeek,
    /// `day_of_year`
    DayOfYear,
    /// `days_in_month`
    DaysInMonth,
    /// `deg`
    Deg,
    /// `delta`
    Delta,
    /// `deriv`
    Deriv,
    /// `double_exponential_smoothing`
    DoubleExponentialSmoothing,
    /// `end`
    End,
    /// `exp`
    Exp,
    /// `first_over_time`
    FirstOverTime,
    /// `floor`
    Floor,
    /// `histogram_avg`
    HistogramAvg,
    /// `histogram_count`
    HistogramCount,
    /// `histogram_fraction`
    HistogramFraction,
    /// `histogram_quantile`
    HistogramQuantile,
    /// `histogram_quantiles`
    HistogramQuantiles,
    /// `histogram_stddev`
    HistogramStddev,
    /// `histogram_stdvar`
    HistogramStdvar,
    /// `histogram_sum`
    HistogramSum,
    /// `hour`
    Hour,
    /// `idelta`
    Idelta,
    /// `increase`
    Increase,
    /// `info`
    Info,
    /// `irate`
    Irate,
    /// `label_join`
    LabelJoin,
    /// `label_replace`
    LabelReplace,
    /// `last_over_time`
    LastOverTime,
    /// `ln`
    Ln,
    /// `log10`
    Log10,
    /// `log2`
    Log2,
    /// `mad_over_time`
    MadOverTime,
    /// `max_of`
    MaxOf,
    /// `max_over_time`
    MaxOverTime,
    /// `min_of`
    MinOf,
    /// `min_over_time`
    MinOverTime,
    /// `minute`
    Minute,
    /// `month`
    Month,
    /// `pi`
    Pi,
    /// `predict_linear`
    PredictLinear,
    /// `present_over_time`
    PresentOverTime,
    /// `quantile_over_time`
    QuantileOverTime,
    /// `rad`
    Rad,
    /// `range`
    Range,
    /// `rate`
    Rate,
    /// `resets`
    Resets,
    /// `round`
    Round,
    /// `scalar`
    Scalar,
    /// `sgn`
    Sgn,
    /// `sin`
    Sin,
    /// `sinh`
    Sinh,
    /// `sort`
    Sort,
    /// `sort_by_label`
    SortByLabel,
    /// `sort_by_label_desc`
    SortByLabelDesc,
    /// `sort_desc`
    SortDesc,
    /// `sqrt`
    Sqrt,
    /// `start`
    Start,
    /// `start_timestamp`
    StartTimestamp,
    /// `stddev_over_time`
    StddevOverTime,
    /// `stdvar_over_time`
    StdvarOverTime,
    /// `step`
    Step,
    /// `sum_over_time`
    SumOverTime,
    /// `tan`
    Tan,
    /// `tanh`
    Tanh,
    /// `time`
    Time,
    /// `timestamp`
    Timestamp,
    /// `ts_of_first_over_time`
    TsOfFirstOverTime,
    /// `ts_of_last_over_time`
    TsOfLastOverTime,
    /// `ts_of_max_over_time`
    TsOfMaxOverTime,
    /// `ts_of_min_over_time`
    TsOfMinOverTime,
    /// `vector`
    Vector,
    /// `year`
    Year,
}

/// The signature of a PromQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Function {
    /// The identity the evaluator dispatches on.
    pub id: FunctionId,
    /// The name (case-sensitive).
    pub name: &'static str,
    /// Argument types. With `variadic != 0` the last `variadic` entries (all of them
    /// repeated, for `-1`) describe optional trailing arguments, see [`Function::min_args`].
    pub arg_types: &'static [ValueType],
    /// `0`: exactly `arg_types.len()` arguments. `n > 0`: between
    /// `arg_types.len() - 1` and `arg_types.len() - 1 + n`. `-1`: at least
    /// `arg_types.len() - 1`, extra ones typed like the last entry.
    pub variadic: i32,
    /// The result type.
    pub return_type: ValueType,
    /// Experimental functions are rejected unless enabled
    /// ([`ParseOptions::enable_experimental_functions`](crate::parser::ParseOptions)).
    pub experimental: bool,
    /// False for functions Prometheus has and this engine does not implement. The
    /// parser accepts them (it follows Prometheus's grammar); the engine rejects a
    /// query calling one with a parse error before evaluating anything.
    pub supported: bool,
    /// The value depends on the evaluation time even when every selector carries `@`
    /// (Prometheus's `AtModifierUnsafeFunctions` plus the query-parameter functions).
    pub at_unsafe: bool,
}

impl Function {
    /// Fewest arguments accepted.
    pub fn min_args(&self) -> usize {
        if self.variadic == 0 {
            self.arg_types.len()
        } else {
            self.arg_types.len().saturating_sub(1)
        }
    }

    /// Most arguments accepted (`None`: unbounded).
    pub fn max_args(&self) -> Option<usize> {
        match self.variadic {
            0 => Some(self.arg_types.len()),
            n if n > 0 => Some(self.arg_types.len().saturating_sub(1) + n as usize),
            _ => None,
        }
    }

    /// The expected type of argument `i` (arguments past the table repeat the last
    /// type). `None` for a function without arguments.
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        self.arg_types
            .get(i)
            .or_else(|| self.arg_types.last())
            .copied()
    }
}

use FunctionId as Id;
use ValueType as VT;

const fn f(
    id: FunctionId,
    name: &'static str,
    arg_types: &'static [ValueType],
    variadic: i32,
    return_type: ValueType,
    experimental: bool,
) -> Function {
    Function {
        id,
        name,
        arg_types,
        variadic,
        return_type,
        experimental,
        supported: true,
        at_unsafe: false,
    }
}

impl Function {
    const fn mark_unsupported(self) -> Self {
        Function {
            supported: false,
            ..self
        }
    }

    const fn mark_at_unsafe(self) -> Self {
        Function {
            at_unsafe: true,
            ..self
        }
    }
}

/// Every function, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f(Id::Abs, "abs", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Absent, "absent", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::AbsentOverTime,
        "absent_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Acos, "acos", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Acosh, "acosh", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Asin, "asin", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Asinh, "asinh", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Atan, "atan", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Atanh, "atanh", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::AvgOverTime,
        "avg_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Ceil, "ceil", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Changes, "changes", &[VT::Matrix], 0, VT::Vector, false),
    f(
        Id::Clamp,
        "clamp",
        &[VT::Vector, VT::Scalar, VT::Scalar],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::ClampMax,
        "clamp_max",
        &[VT::Vector, VT::Scalar],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::ClampMin,
        "clamp_min",
        &[VT::Vector, VT::Scalar],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Cos, "cos", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Cosh, "cosh", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::CountOverTime,
        "count_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::DayOfMonth,
        "day_of_month",
        &[VT::Vector],
        1,
        VT::Vector,
        false,
    )
    .mark_at_unsafe(),
    f(
        Id::DayOfWeek,
        "day_of_week",
        &[VT::Vector],
        1,
        VT::Vector,
        false,
    )
    .mark_at_unsafe(),
    f(
        Id::DayOfYear,
        "day_of_year",
        &[VT::Vector],
        1,
        VT::Vector,
        false,
    )
    .mark_at_unsafe(),
    f(
        Id::DaysInMonth,
        "days_in_month",
        &[VT::Vector],
        1,
        VT::Vector,
        false,
    )
    .mark_at_unsafe(),
    f(Id::Deg, "deg", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Delta, "delta", &[VT::Matrix], 0, VT::Vector, false),
    f(Id::Deriv, "deriv", &[VT::Matrix], 0, VT::Vector, false),
    f(
        Id::DoubleExponentialSmoothing,
        "double_exponential_smoothing",
        &[VT::Matrix, VT::Scalar, VT::Scalar],
        0,
        VT::Vector,
        true,
    ),
    f(Id::End, "end", &[], 0, VT::Scalar, true).mark_at_unsafe(),
    f(Id::Exp, "exp", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::FirstOverTime,
        "first_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        true,
    ),
    f(Id::Floor, "floor", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::HistogramAvg,
        "histogram_avg",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::HistogramCount,
        "histogram_count",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::HistogramFraction,
        "histogram_fraction",
        &[VT::Scalar, VT::Scalar, VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::HistogramQuantile,
        "histogram_quantile",
        &[VT::Scalar, VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::HistogramQuantiles,
        "histogram_quantiles",
        &[VT::Vector, VT::String, VT::Scalar, VT::Scalar],
        9,
        VT::Vector,
        true,
    )
    .mark_unsupported(),
    f(
        Id::HistogramStddev,
        "histogram_stddev",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::HistogramStdvar,
        "histogram_stdvar",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::HistogramSum,
        "histogram_sum",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Hour, "hour", &[VT::Vector], 1, VT::Vector, false).mark_at_unsafe(),
    f(Id::Idelta, "idelta", &[VT::Matrix], 0, VT::Vector, false),
    f(
        Id::Increase,
        "increase",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::Info,
        "info",
        &[VT::Vector, VT::Vector],
        1,
        VT::Vector,
        true,
    )
    .mark_unsupported(),
    f(Id::Irate, "irate", &[VT::Matrix], 0, VT::Vector, false),
    f(
        Id::LabelJoin,
        "label_join",
        &[VT::Vector, VT::String, VT::String, VT::String],
        -1,
        VT::Vector,
        false,
    ),
    f(
        Id::LabelReplace,
        "label_replace",
        &[VT::Vector, VT::String, VT::String, VT::String, VT::String],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::LastOverTime,
        "last_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Ln, "ln", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Log10, "log10", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Log2, "log2", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::MadOverTime,
        "mad_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        true,
    ),
    f(
        Id::MaxOf,
        "max_of",
        &[VT::Scalar, VT::Scalar],
        0,
        VT::Scalar,
        true,
    ),
    f(
        Id::MaxOverTime,
        "max_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::MinOf,
        "min_of",
        &[VT::Scalar, VT::Scalar],
        0,
        VT::Scalar,
        true,
    ),
    f(
        Id::MinOverTime,
        "min_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Minute, "minute", &[VT::Vector], 1, VT::Vector, false).mark_at_unsafe(),
    f(Id::Month, "month", &[VT::Vector], 1, VT::Vector, false).mark_at_unsafe(),
    f(Id::Pi, "pi", &[], 0, VT::Scalar, false),
    f(
        Id::PredictLinear,
        "predict_linear",
        &[VT::Matrix, VT::Scalar],
        0,
        VT::Vector,
        false,
    )
    .mark_at_unsafe(),
    f(
        Id::PresentOverTime,
        "present_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::QuantileOverTime,
        "quantile_over_time",
        &[VT::Scalar, VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Rad, "rad", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Range, "range", &[], 0, VT::Scalar, true).mark_at_unsafe(),
    f(Id::Rate, "rate", &[VT::Matrix], 0, VT::Vector, false),
    f(Id::Resets, "resets", &[VT::Matrix], 0, VT::Vector, false),
    f(
        Id::Round,
        "round",
        &[VT::Vector, VT::Scalar],
        1,
        VT::Vector,
        false,
    ),
    f(Id::Scalar, "scalar", &[VT::Vector], 0, VT::Scalar, false),
    f(Id::Sgn, "sgn", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Sin, "sin", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Sinh, "sinh", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Sort, "sort", &[VT::Vector], 0, VT::Vector, false),
    f(
        Id::SortByLabel,
        "sort_by_label",
        &[VT::Vector, VT::String],
        -1,
        VT::Vector,
        true,
    ),
    f(
        Id::SortByLabelDesc,
        "sort_by_label_desc",
        &[VT::Vector, VT::String],
        -1,
        VT::Vector,
        true,
    ),
    f(
        Id::SortDesc,
        "sort_desc",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Sqrt, "sqrt", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Start, "start", &[], 0, VT::Scalar, true).mark_at_unsafe(),
    f(
        Id::StartTimestamp,
        "start_timestamp",
        &[VT::Vector],
        0,
        VT::Vector,
        true,
    )
    .mark_unsupported(),
    f(
        Id::StddevOverTime,
        "stddev_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(
        Id::StdvarOverTime,
        "stdvar_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Step, "step", &[], 0, VT::Scalar, true).mark_at_unsafe(),
    f(
        Id::SumOverTime,
        "sum_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f(Id::Tan, "tan", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Tanh, "tanh", &[VT::Vector], 0, VT::Vector, false),
    f(Id::Time, "time", &[], 0, VT::Scalar, false).mark_at_unsafe(),
    f(
        Id::Timestamp,
        "timestamp",
        &[VT::Vector],
        0,
        VT::Vector,
        false,
    )
    .mark_at_unsafe(),
    f(
        Id::TsOfFirstOverTime,
        "ts_of_first_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        true,
    ),
    f(
        Id::TsOfLastOverTime,
        "ts_of_last_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        true,
    ),
    f(
        Id::TsOfMaxOverTime,
        "ts_of_max_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        true,
    ),
    f(
        Id::TsOfMinOverTime,
        "ts_of_min_over_time",
        &[VT::Matrix],
        0,
        VT::Vector,
        true,
    ),
    f(Id::Vector, "vector", &[VT::Scalar], 0, VT::Vector, false),
    f(Id::Year, "year", &[VT::Vector], 1, VT::Vector, false).mark_at_unsafe(),
];

/// Looks a function up by its exact (case-sensitive) name.
pub fn get_function(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_lookup_works() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        let r = get_function("round").unwrap();
        assert_eq!((r.min_args(), r.max_args()), (1, Some(2)));
        let j = get_function("label_join").unwrap();
        assert_eq!((j.min_args(), j.max_args()), (3, None));
        assert_eq!(j.arg_type(7), Some(ValueType::String));
        let h = get_function("hour").unwrap();
        assert_eq!((h.min_args(), h.max_args()), (0, Some(1)));
        assert!(get_function("RATE").is_none());
        assert_eq!(get_function("time").unwrap().return_type, ValueType::Scalar);
    }
}
