using System.Diagnostics;
using System.Text;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Cli;

/// <summary>The built <c>Pipeline.OrderService</c> run as an operator runs it, with stdout and stderr kept apart (a script
/// reads stdout; errors and progress go to stderr), both redirected as in a pipe. Killed on dispose if still running.</summary>
internal sealed class CliProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private readonly Task reading;

    private CliProcess(IDictionary<string, string?> environment, string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add(ReplicaCluster.FindServiceDll());
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        ProcessEnvironment.Apply(info, environment);

        process = Process.Start(info) ?? throw new InvalidOperationException("could not start Pipeline.OrderService");
        process.StandardInput.Close();
        reading = Task.WhenAll(CopyAsync(process.StandardOutput, stdout), CopyAsync(process.StandardError, stderr));
    }

    public int Pid => process.Id;

    public string Stdout
    {
        get
        {
            lock (stdout)
            {
                return stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }
    }

    /// <summary>Starts <c>Pipeline.OrderService args</c> with exactly <paramref name="environment"/> applied (null removes).</summary>
    public static CliProcess Start(IDictionary<string, string?> environment, params string[] args) => new(environment, args);

    /// <summary>Runs it to its end; fails the test if it is still running after <paramref name="timeout"/>.</summary>
    public static async Task<CliProcess> RunAsync(IDictionary<string, string?> environment, TimeSpan timeout, params string[] args)
    {
        var run = Start(environment, args);
        try
        {
            await run.WaitForExitAsync(timeout);
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every service pointed at a closed port: parsing needs none, and a test that gets past parsing by mistake must
    /// not publish into or change the shared services (appsettings.json's defaults point at them).</summary>
    public static Dictionary<string, string?> NoServices() => new(StringComparer.Ordinal)
    {
        [TestServices.ZooKeeperVariable] = null,
        [TestServices.RabbitMqVariable] = null,
        [TestServices.RabbitMqManagementVariable] = null,
        [TestServices.PostgresVariable] = null,
        ["ZooKeeper__ConnectString"] = $"127.0.0.1:{ClosedPort}",
        ["RabbitMq__Host"] = "127.0.0.1",
        ["RabbitMq__Port"] = ClosedPort,
        ["ConnectionStrings__Inventory"] = $"Host=127.0.0.1;Port={ClosedPort};Username=nobody;Password=not-a-secret;Database=none",
        ["ConnectionStrings__InventoryOwner"] = null,
    };

    /// <summary>A port nothing listens on (taken free, not bound).</summary>
    public static string ClosedPort { get; } = FreePorts.Take(1)[0].ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Waits for the exit and for both streams to end; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
            await reading.WaitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Pipeline.OrderService still running after {timeout.TotalSeconds:0} s; stdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        return process.ExitCode;
    }

    public int ExitCode => process.ExitCode;

    public string Describe() => $"exit {(process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none yet")}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static async Task CopyAsync(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (into)
            {
                into.Append(buffer, 0, read);
            }
        }
    }
}
