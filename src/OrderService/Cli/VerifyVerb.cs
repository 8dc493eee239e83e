using System.CommandLine;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Verification;
using Pipeline.OrderService.Configuration;
using Spectre.Console;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>verify</c> verb: the invariants checked in the database, as a table or as one JSON document; exit 3 on
/// any violation.</summary>
internal static class VerifyVerb
{
    public const int ViolationsExitCode = 3;

    public static Command Command(string[] settings)
    {
        var published = CliOptions.Text("--published", "a file of published order ids, one a line (publish --ids-file): each must be recorded", "IDS_FILE");
        var notDrained = CliOptions.Flag("--not-drained", "the queues may still hold orders: recorded orders need not be decided yet");
        var json = CliOptions.Json();
        var command = Verbs.Verb("verify", "Check the invariants in the database (no oversell, exactly once, nothing lost, fencing); exit 3 on any violation.");
        command.Options.Add(published);
        command.Options.Add(notDrained);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) =>
            RunAsync(settings, parse.GetValue(published), !parse.GetValue(notDrained), parse.GetValue(json), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] settings, string? publishedFile, bool drained, bool json, CancellationToken cancellationToken)
    {
        var published = publishedFile is null ? null : await ReadIdsAsync(publishedFile, cancellationToken);
        var connectionString = Verbs.Configuration(settings).InventoryConnectionString();
        await Reachability.PostgresAsync(connectionString, "ConnectionStrings:Inventory", cancellationToken);
        await using var dataSource = InventoryDataSource.Create(connectionString);
        var report = await new InvariantChecker(dataSource).VerifyAsync(drained, published, cancellationToken: cancellationToken);
        if (json)
        {
            CliJson.Write(new VerifyDocument(report.AllHold, drained, published?.Length, report.Orders, report.Undecided, report.LedgerRows, report.FenceRejections,
                [.. report.Results.Select(r => new InvariantDocument(r.Number, r.Name, r.Holds, r.Violations, r.FirstOffenders))]));
        }
        else
        {
            Print(report);
        }

        return report.AllHold ? 0 : ViolationsExitCode;
    }

    private static async Task<string[]> ReadIdsAsync(string file, CancellationToken cancellationToken)
    {
        try
        {
            return [.. (await File.ReadAllLinesAsync(file, cancellationToken)).Where(line => line.Length > 0)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliFailureException($"cannot read --published {file}: {ex.Message}", ex);
        }
    }

    private static void Print(InvariantReport report)
    {
        var console = CliConsole.Out;
        console.WriteLine($"orders {report.Orders}, undecided {report.Undecided}, ledger rows {report.LedgerRows}, fence rejections {report.FenceRejections}");
        var table = new Table().AddColumns("#", "invariant", "verdict", "violations", "examples");
        foreach (var result in report.Results)
        {
            table.AddRow(
                new Text(result.Number.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Text(result.Name),
                result.Holds ? new Markup("[green]holds[/]") : new Markup("[red bold]VIOLATED[/]"),
                new Text(result.Violations.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Text(string.Join("; ", result.FirstOffenders)));
        }

        console.Write(table);
        console.WriteLine(report.AllHold ? "verify: every invariant holds" : "verify: VIOLATIONS");
    }

    /// <summary><c>verify --json</c>: the verdict, what was judged and each invariant.</summary>
    private sealed record VerifyDocument(bool AllHold, bool Drained, int? Published, long Orders, long Undecided, long LedgerRows, long FenceRejections,
        IReadOnlyList<InvariantDocument> Invariants);

    private sealed record InvariantDocument(int Number, string Name, bool Holds, long Violations, IReadOnlyList<string> Examples);
}
