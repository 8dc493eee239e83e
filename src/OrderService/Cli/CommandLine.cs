using System.Globalization;

namespace Pipeline.OrderService.Cli;

/// <summary>"--name value", "--flag" and "--Section:Key=value" (configuration, passed through untouched).</summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> values = new(StringComparer.Ordinal);

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var line = new CommandLine();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-') || arg.Contains('=', StringComparison.Ordinal))
            {
                continue; // configuration overrides and positional words are not options
            }

            var name = arg.TrimStart('-');
            var hasValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            line.values[name] = hasValue ? args[++i] : null;
        }

        return line;
    }

    public bool Has(string name) => values.ContainsKey(name);

    public int GetInt(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!values.TryGetValue(name, out var text) || text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"--{name} must be a whole number from {min} to {max}, not '{text}'.");
    }

    public double GetDouble(string name, double fallback, double min, double max)
    {
        if (!values.TryGetValue(name, out var text) || text is null)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"--{name} must be a number from {min} to {max}, not '{text}'.");
    }

    public string? GetString(string name) => values.GetValueOrDefault(name);
}
