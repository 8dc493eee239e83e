using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>One run of samples/Storefront as a process: its exit code (null when it was killed at the limit) and what it printed.</summary>
internal sealed record SampleRun(int? ExitCode, string Output, string Errors, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none (killed)"} after {Elapsed.TotalSeconds:0.0} s\n--- stdout\n{Output}\n--- stderr\n{Errors}";
}

/// <summary>Runs the sample storefront's build output (<c>dotnet Pipeline.Storefront.dll</c>) with settings from the environment.</summary>
internal static class SampleStorefront
{
    public const string DllName = "Pipeline.Storefront.dll";

    /// <summary>Runs the sample with <paramref name="settings"/> as <c>Storefront__*</c> variables; killed (with its
    /// children) at <paramref name="limit"/>, a liveness guard above the sample's own timeout.</summary>
    public static async Task<SampleRun> RunAsync(IReadOnlyDictionary<string, string> settings, TimeSpan limit)
    {
        var dll = FindDll();
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        foreach (var name in new[] { TestServices.ZooKeeperVariable, TestServices.RabbitMqVariable, TestServices.RabbitMqManagementVariable, TestServices.PostgresVariable })
        {
            info.Environment.Remove(name);
        }

        foreach (var (key, value) in settings)
        {
            info.Environment["Storefront__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var output = new StringBuilder();
        var errors = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(errors, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(limit);
        int? exitCode = null;
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            exitCode = process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync(CancellationToken.None); // drains the redirected streams
        return new SampleRun(exitCode, Text(output), Text(errors), clock.Elapsed);
    }

    /// <summary>The sample's own build output (with its appsettings.json), same configuration as the tests first. The test
    /// project references the sample without its assembly, so building the tests builds it.</summary>
    public static string FindDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var tried = new[] { configuration, configuration == "Debug" ? "Release" : "Debug" }
            .Select(c => Path.Combine(RepositoryRoot.Folder, "samples", "Storefront", "bin", c, "net10.0", DllName)).ToList();
        return tried.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{DllName} not found in {string.Join(", ", tried)}: build samples/Storefront (building this test project does).");
    }

    private static void Append(StringBuilder text, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (text)
        {
            text.AppendLine(line);
        }
    }

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }
}
