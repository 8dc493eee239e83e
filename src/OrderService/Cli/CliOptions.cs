using System.CommandLine;
using System.Globalization;

namespace Pipeline.OrderService.Cli;

/// <summary>The typed options the verbs share in shape: a range-checked number with a default, a text, a flag, <c>--json</c>.
/// A value out of range is a parse error (exit 2) naming the option, the range and the value given.</summary>
internal static class CliOptions
{
    public static Option<int> Int(string name, string description, int defaultValue, int min, int max) =>
        Ranged(new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" }, min, max);

    public static Option<double> Number(string name, string description, double defaultValue, double min, double max) =>
        Ranged(new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "X" }, min, max);

    public static Option<string?> Text(string name, string description, string helpName) =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary><c>--json</c>: one JSON document on stdout instead of tables; its shapes are in docs/OPERATIONS.md.</summary>
    public static Option<bool> Json() => Flag("--json", "print one JSON document on stdout instead of tables (for scripts; shapes in docs/OPERATIONS.md)");

    private static Option<T> Ranged<T>(Option<T> option, T min, T max)
        where T : struct, IComparable<T>, IFormattable, IParsable<T>
    {
        option.Validators.Add(result =>
        {
            // A value that is not a number at all is System.CommandLine's own error; only numbers are checked here.
            if (result.Tokens.Count == 0 || !T.TryParse(result.Tokens[^1].Value, CultureInfo.InvariantCulture, out var value))
            {
                return;
            }

            if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture,
                    $"{option.Name} must be from {min.ToString(null, CultureInfo.InvariantCulture)} to {max.ToString(null, CultureInfo.InvariantCulture)}, not {result.Tokens[^1].Value}."));
            }
        });
        return option;
    }
}
