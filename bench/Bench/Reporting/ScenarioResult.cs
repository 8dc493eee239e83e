using System.Globalization;

namespace Pipeline.Bench.Reporting;

/// <summary>
/// One measured quantity, ours beside the reference implementation's (the official Java client for zk). Java is null where a
/// scenario has no reference for a row.
/// </summary>
public sealed record ResultRow(string Name, double Ours, double? Java, string Unit, bool HigherIsBetter)
{
    /// <summary>How many times better ours is (above 1: ours wins), whichever direction the unit counts.</summary>
    public double? Advantage => Java is { } java && java > 0 && Ours > 0 ? (HigherIsBetter ? Ours / java : java / Ours) : null;
}

/// <summary>What a scenario returns: its rows, its headline ratio against the goal, and anything else worth keeping.</summary>
public sealed record ScenarioResult(string Scenario, double Ratio, double Goal, IReadOnlyList<ResultRow> Rows)
{
    /// <summary>How the numbers were taken (rounds, warm-up, best-of), printed under the table and kept in the JSON.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>What "java" stands for in this scenario's rows: the reference ours is measured against (the JSON key of
    /// <see cref="ResultRow.Java"/>).</summary>
    public string Reference { get; init; } = "java";

    /// <summary>A table of the scenario's own shape (first line the header), printed instead of the generic one.</summary>
    public IReadOnlyList<string[]>? Table { get; init; }

    /// <summary>True when the run found what must not happen (a correctness scenario's violation): the process exits 1.</summary>
    public bool Failed { get; init; }

    /// <summary>Scenario-specific details for the JSON (counts, per-round numbers, versions).</summary>
    public IReadOnlyDictionary<string, object?> Details { get; init; } = new Dictionary<string, object?>();

    /// <summary>The last line printed: "zk: ratio 0.93 (goal 1.0)".</summary>
    public string SummaryLine => string.Create(CultureInfo.InvariantCulture, $"{Scenario}: ratio {Ratio:0.00} (goal {Goal:0.0})");
}
