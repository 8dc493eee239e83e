using Pipeline.Bench;
using Pipeline.Bench.Reporting;
using Pipeline.Bench.Scenarios;

// bench/run SCENARIO [--quick]: runs one scenario, prints its table, writes bench/results/SCENARIO.json and ends with the
// scenario's summary line ("zk: ratio 0.93 (goal 1.0)"). `list` prints the names `all` runs, one a line
// (chaos, the fault suite's long mode, runs only by name).
IScenario[] scenarios =
[
    new ZkScenario(),
    new CommitScenario(),
    new CeilingsScenario(),
    new PipelineScenario(),
    new LeaderDrainScenario(),
    new FailoverScenario(),
    new ChaosScenario(),
    new LivenessScenario(),
];

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("usage: Pipeline.Bench SCENARIO [--quick] [--rounds N] [--schedules N] [--results DIR]");
    Console.WriteLine("       Pipeline.Bench list");
    foreach (var known in scenarios)
    {
        Console.WriteLine($"  {known.Name,-12} {known.Description}");
    }

    return args.Length == 0 ? 2 : 0;
}

if (args[0] == "list")
{
    foreach (var known in scenarios.Where(s => s.InAll))
    {
        Console.WriteLine(known.Name);
    }

    return 0;
}

BenchContext context;
try
{
    context = BenchContext.Parse(args.AsSpan(1));
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync($"bench: {ex.Message}");
    return 2;
}

var scenario = Array.Find(scenarios, s => s.Name == args[0]);
if (scenario is null)
{
    await Console.Error.WriteLineAsync($"bench: unknown scenario '{args[0]}'; known: {string.Join(", ", scenarios.Select(s => s.Name))}");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

Console.WriteLine($"== {scenario.Name}{(context.Quick ? " (quick)" : "")}: {scenario.Description}");
ScenarioResult result;
try
{
    result = await scenario.RunAsync(context, cancel.Token);
}
#pragma warning disable CA1031 // Any failure of a scenario ends it with a message and exit code 1, not a crash dump.
catch (Exception ex)
#pragma warning restore CA1031
{
    await Console.Error.WriteLineAsync($"bench: {scenario.Name} failed: {ex}");
    return 1;
}

Console.WriteLine();
Console.Write(result.Table is { } table ? ResultTable.Render(table) : ResultTable.Render(result));
var file = await ResultWriter.WriteAsync(result, context, cancel.Token);
Console.WriteLine();
foreach (var note in result.Notes)
{
    Console.WriteLine(note);
}

Console.WriteLine($"results: {Path.GetRelativePath(Environment.CurrentDirectory, file)}");
Console.WriteLine(result.SummaryLine);
return result.Failed ? 1 : 0;
