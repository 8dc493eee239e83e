using Pipeline.Bench.Reporting;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// One benchmark scenario (zk; later commit, ceilings, pipeline, leader-drain, failover, chaos). It runs its workloads and
/// returns the rows; Program prints the table, writes bench/results/NAME.json and ends with <see cref="ScenarioResult.SummaryLine"/>.
/// </summary>
public interface IScenario
{
    /// <summary>The command-line name, also the results file name.</summary>
    string Name { get; }

    string Description { get; }

    /// <summary>Whether `bench/run all` runs it (the chaos scenario is a long correctness run, on its own).</summary>
    bool InAll => true;

    Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken);
}
