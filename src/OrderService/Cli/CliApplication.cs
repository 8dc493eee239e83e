using System.CommandLine;
using System.CommandLine.Invocation;
using Microsoft.Extensions.Options;
using Npgsql;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.OrderService.Cli;

/// <summary>
/// The command line: configuration overrides (<c>--Section:Key=value</c>) are taken out first and go to the configuration of
/// whichever verb runs; everything else is parsed by System.CommandLine against the verb's typed options. Exit codes: 0 done,
/// 1 failed (one line on stderr, never a stack trace), 2 the command line is wrong (or fence-reset wrote nothing without
/// --confirm), 3 verify found violations, 130 stopped by Ctrl+C or SIGTERM.
/// </summary>
internal static class CliApplication
{
    public const string ExecutableName = "Pipeline.OrderService";
    public const int Failed = 1;
    public const int UsageError = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var (settings, rest) = SplitSettings(args);
        var root = Verbs.CreateRootCommand(settings);
        if (rest.Length == 0)
        {
            // No verb: what the verbs are, on stderr (stdout stays for what a verb prints), and the usage error's exit code.
            await root.Parse("--help").InvokeAsync(new InvocationConfiguration { Output = Console.Error });
            return UsageError;
        }

        var parse = root.Parse(rest);
        if (parse.Action is ParseErrorAction)
        {
            return await ReportParseErrorsAsync(parse);
        }

        var verb = parse.CommandResult.Command;
        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (parse.Action != verb.Action || verb == root || verb.Name == Verbs.Run)
        {
            // Help, the version and run need no interruption of their own (the run verb's host handles its signals).
            return await InvokeAsync(parse, invocation, verb.Name, CancellationToken.None);
        }

        using var interruption = new Interruption();
        return await InvokeAsync(parse, invocation, verb.Name, interruption.Token);
    }

    /// <summary>Separates configuration overrides (<c>--Section:Key=value</c>: a name with ':' and a value after '=') from the
    /// verb and its options.</summary>
    public static (string[] Settings, string[] Arguments) SplitSettings(IEnumerable<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var settings = new List<string>();
        var rest = new List<string>();
        foreach (var arg in args)
        {
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var isSetting = arg.StartsWith("--", StringComparison.Ordinal) && equals > 2 && arg.AsSpan(2, equals - 2).Contains(':');
            (isSetting ? settings : rest).Add(arg);
        }

        return ([.. settings], [.. rest]);
    }

    private static async Task<int> InvokeAsync(ParseResult parse, InvocationConfiguration invocation, string verb, CancellationToken cancellationToken)
    {
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"{verb}: interrupted");
            return Interruption.ExitCode;
        }
        catch (Exception ex) when (IsExpected(ex))
        {
            await Console.Error.WriteLineAsync($"{verb}: {Reachability.OneLine(ex)}");
            return Failed;
        }
        catch (Exception ex)
        {
            // Still one line: an operator's terminal and a script's log get the what, not the where.
            await Console.Error.WriteLineAsync($"{verb}: unexpected {ex.GetType().Name}: {Reachability.OneLine(ex)}");
            return Failed;
        }
    }

    /// <summary>What a verb fails with when a setting is wrong or a service is unreachable, refused or gone.</summary>
    private static bool IsExpected(Exception ex) =>
        ex is CliFailureException or ArgumentException or InvalidOperationException or FormatException or OptionsValidationException
            or KeeperException or NpgsqlException or TimeoutException or IOException or UnauthorizedAccessException
        || Reachability.IsRabbitMqFailure(ex) || ex.GetType().Namespace?.StartsWith("MassTransit", StringComparison.Ordinal) == true;

    private static async Task<int> ReportParseErrorsAsync(ParseResult parse)
    {
        foreach (var error in parse.Errors)
        {
            await Console.Error.WriteLineAsync($"error: {error.Message}");
        }

        var command = parse.CommandResult.Command;
        var help = command is RootCommand ? $"{ExecutableName} --help" : $"{ExecutableName} {command.Name} --help";
        await Console.Error.WriteLineAsync($"see '{help}' for the options; configuration overrides are written --Section:Key=value");
        return UsageError;
    }
}
