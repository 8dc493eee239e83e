using Spectre.Console;

namespace Pipeline.OrderService.Cli;

/// <summary>The CLI's two consoles: data on stdout (tables, JSON, summaries), progress and errors on stderr. Each is set up
/// explicitly rather than from Spectre.Console's detection: no escape codes at all when the stream is redirected (a file, a
/// pipe, a CI log), no colour under <c>NO_COLOR</c> (https://no-color.org: set and not empty), animation only on a terminal.</summary>
internal static class CliConsole
{
    private static readonly Lazy<IAnsiConsole> OutConsole = new(() => Create(Console.Out, Console.IsOutputRedirected));
    private static readonly Lazy<IAnsiConsole> ErrorConsole = new(() => Create(Console.Error, Console.IsErrorRedirected));

    /// <summary>stdout: what a script may read.</summary>
    public static IAnsiConsole Out => OutConsole.Value;

    /// <summary>stderr: progress, warnings and errors.</summary>
    public static IAnsiConsole Error => ErrorConsole.Value;

    /// <summary>True when stderr is a terminal that can animate a progress bar.</summary>
    public static bool ErrorIsTerminal => !Console.IsErrorRedirected;

    /// <summary>True when colour is off by request (<c>NO_COLOR</c> set to anything but the empty string).</summary>
    public static bool NoColor => Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 };

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected || NoColor ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected)
        {
            // A redirected stream has no width: tables laid out for a wide log line instead of wrapped at 80 columns.
            console.Profile.Width = 160;
        }

        return console;
    }
}
