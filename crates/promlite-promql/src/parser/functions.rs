//! The function table: every PromQL function's name and signature.
//!
//! The parser uses it to type-check calls; the evaluator attaches implementations
//! by name. Signatures follow Prometheus 3 (`promql/parser/functions.go`).

use super::ast::ValueType;

/// The signature of a PromQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Function {
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

use ValueType as VT;

const fn f(
    name: &'static str,
    arg_types: &'static [ValueType],
    variadic: i32,
    return_type: ValueType,
    experimental: bool,
) -> Function {
    Function {
        name,
        arg_types,
        variadic,
        return_type,
        experimental,
    }
}

/// Every function, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f("abs", &[VT::Vector], 0, VT::Vector, false),
    f("absent", &[VT::Vector], 0, VT::Vector, false),
    f("absent_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("acos", &[VT::Vector], 0, VT::Vector, false),
    f("acosh", &[VT::Vector], 0, VT::Vector, false),
    f("asin", &[VT::Vector], 0, VT::Vector, false),
    f("asinh", &[VT::Vector], 0, VT::Vector, false),
    f("atan", &[VT::Vector], 0, VT::Vector, false),
    f("atanh", &[VT::Vector], 0, VT::Vector, false),
    f("avg_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("ceil", &[VT::Vector], 0, VT::Vector, false),
    f("changes", &[VT::Matrix], 0, VT::Vector, false),
    f(
        "clamp",
        &[VT::Vector, VT::Scalar, VT::Scalar],
        0,
        VT::Vector,
        false,
    ),
    f("clamp_max", &[VT::Vector, VT::Scalar], 0, VT::Vector, false),
    f("clamp_min", &[VT::Vector, VT::Scalar], 0, VT::Vector, false),
    f("cos", &[VT::Vector], 0, VT::Vector, false),
    f("cosh", &[VT::Vector], 0, VT::Vector, false),
    f("count_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("day_of_month", &[VT::Vector], 1, VT::Vector, false),
    f("day_of_week", &[VT::Vector], 1, VT::Vector, false),
    f("day_of_year", &[VT::Vector], 1, VT::Vector, false),
    f("days_in_month", &[VT::Vector], 1, VT::Vector, false),
    f("deg", &[VT::Vector], 0, VT::Vector, false),
    f("delta", &[VT::Matrix], 0, VT::Vector, false),
    f("deriv", &[VT::Matrix], 0, VT::Vector, false),
    f(
        "double_exponential_smoothing",
        &[VT::Matrix, VT::Scalar, VT::Scalar],
        0,
        VT::Vector,
        true,
    ),
    f("end", &[], 0, VT::Scalar, true),
    f("exp", &[VT::Vector], 0, VT::Vector, false),
    f("first_over_time", &[VT::Matrix], 0, VT::Vector, true),
    f("floor", &[VT::Vector], 0, VT::Vector, false),
    f("histogram_avg", &[VT::Vector], 0, VT::Vector, false),
    f("histogram_count", &[VT::Vector], 0, VT::Vector, false),
    f(
        "histogram_fraction",
        &[VT::Scalar, VT::Scalar, VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        "histogram_quantile",
        &[VT::Scalar, VT::Vector],
        0,
        VT::Vector,
        false,
    ),
    f(
        "histogram_quantiles",
        &[VT::Vector, VT::String, VT::Scalar, VT::Scalar],
        9,
        VT::Vector,
        true,
    ),
    f("histogram_stddev", &[VT::Vector], 0, VT::Vector, false),
    f("histogram_stdvar", &[VT::Vector], 0, VT::Vector, false),
    f("histogram_sum", &[VT::Vector], 0, VT::Vector, false),
    f("hour", &[VT::Vector], 1, VT::Vector, false),
    f("idelta", &[VT::Matrix], 0, VT::Vector, false),
    f("increase", &[VT::Matrix], 0, VT::Vector, false),
    f("info", &[VT::Vector, VT::Vector], 1, VT::Vector, true),
    f("irate", &[VT::Matrix], 0, VT::Vector, false),
    f(
        "label_join",
        &[VT::Vector, VT::String, VT::String, VT::String],
        -1,
        VT::Vector,
        false,
    ),
    f(
        "label_replace",
        &[VT::Vector, VT::String, VT::String, VT::String, VT::String],
        0,
        VT::Vector,
        false,
    ),
    f("last_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("ln", &[VT::Vector], 0, VT::Vector, false),
    f("log10", &[VT::Vector], 0, VT::Vector, false),
    f("log2", &[VT::Vector], 0, VT::Vector, false),
    f("mad_over_time", &[VT::Matrix], 0, VT::Vector, true),
    f("max_of", &[VT::Scalar, VT::Scalar], 0, VT::Scalar, true),
    f("max_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("min_of", &[VT::Scalar, VT::Scalar], 0, VT::Scalar, true),
    f("min_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("minute", &[VT::Vector], 1, VT::Vector, false),
    f("month", &[VT::Vector], 1, VT::Vector, false),
    f("pi", &[], 0, VT::Scalar, false),
    f(
        "predict_linear",
        &[VT::Matrix, VT::Scalar],
        0,
        VT::Vector,
        false,
    ),
    f("present_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f(
        "quantile_over_time",
        &[VT::Scalar, VT::Matrix],
        0,
        VT::Vector,
        false,
    ),
    f("rad", &[VT::Vector], 0, VT::Vector, false),
    f("range", &[], 0, VT::Scalar, true),
    f("rate", &[VT::Matrix], 0, VT::Vector, false),
    f("resets", &[VT::Matrix], 0, VT::Vector, false),
    f("round", &[VT::Vector, VT::Scalar], 1, VT::Vector, false),
    f("scalar", &[VT::Vector], 0, VT::Scalar, false),
    f("sgn", &[VT::Vector], 0, VT::Vector, false),
    f("sin", &[VT::Vector], 0, VT::Vector, false),
    f("sinh", &[VT::Vector], 0, VT::Vector, false),
    f("sort", &[VT::Vector], 0, VT::Vector, false),
    f(
        "sort_by_label",
        &[VT::Vector, VT::String],
        -1,
        VT::Vector,
        true,
    ),
    f(
        "sort_by_label_desc",
        &[VT::Vector, VT::String],
        -1,
        VT::Vector,
        true,
    ),
    f("sort_desc", &[VT::Vector], 0, VT::Vector, false),
    f("sqrt", &[VT::Vector], 0, VT::Vector, false),
    f("start", &[], 0, VT::Scalar, true),
    f("start_timestamp", &[VT::Vector], 0, VT::Vector, true),
    f("stddev_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("stdvar_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("step", &[], 0, VT::Scalar, true),
    f("sum_over_time", &[VT::Matrix], 0, VT::Vector, false),
    f("tan", &[VT::Vector], 0, VT::Vector, false),
    f("tanh", &[VT::Vector], 0, VT::Vector, false),
    f("time", &[], 0, VT::Scalar, false),
    f("timestamp", &[VT::Vector], 0, VT::Vector, false),
    f("ts_of_first_over_time", &[VT::Matrix], 0, VT::Vector, true),
    f("ts_of_last_over_time", &[VT::Matrix], 0, VT::Vector, true),
    f("ts_of_max_over_time", &[VT::Matrix], 0, VT::Vector, true),
    f("ts_of_min_over_time", &[VT::Matrix], 0, VT::Vector, true),
    f("vector", &[VT::Scalar], 0, VT::Vector, false),
    f("year", &[VT::Vector], 1, VT::Vector, false),
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
