using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Pipeline.Testing;

namespace Pipeline.Bench.Zk;

/// <summary>
/// bench/java/ZkBench.java as a child JVM that lives for the whole scenario, so it warms up across rounds as our client does in
/// this process. Each <see cref="RunRoundAsync"/> sends "round" and reads back one JSON line.
/// </summary>
public sealed class JavaClientBench : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder errors = new();
    private readonly Task errorPump;

    private JavaClientBench(Process process)
    {
        this.process = process;
        errorPump = PumpErrorsAsync();
    }

    /// <summary>The JVM's version and the ZooKeeper client's, as the child reports them.</summary>
    public string Versions { get; private set; } = "";

    public static async Task<JavaClientBench> StartAsync(JavaToolchain toolchain, string classes, string connect, string parent, ZkWorkload workload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(toolchain);
        ArgumentNullException.ThrowIfNull(workload);
        var info = new ProcessStartInfo(toolchain.Java)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new object[]
        {
            "-cp", classes + ":" + toolchain.Classpath, "ZkBench", connect, parent,
            workload.Sequential, workload.Gets, workload.WarmupSequential, workload.WarmupGets, workload.InFlight,
        })
        {
            info.ArgumentList.Add(Convert.ToString(arg, CultureInfo.InvariantCulture)!);
        }

        var bench = new JavaClientBench(Process.Start(info) ?? throw new InvalidOperationException($"cannot start {toolchain.Java}"));
        try
        {
            using var ready = await bench.ReadLineAsync(TimeSpan.FromSeconds(60), cancellationToken);
            var root = ready.RootElement;
            bench.Versions = $"Java {root.GetProperty("java").GetString()}, ZooKeeper client {root.GetProperty("client").GetString()}";
            return bench;
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }
    }

    public async Task<ZkRound> RunRoundAsync(CancellationToken cancellationToken)
    {
        await process.StandardInput.WriteLineAsync("round".AsMemory(), cancellationToken);
        await process.StandardInput.FlushAsync(cancellationToken);
        using var line = await ReadLineAsync(TimeSpan.FromMinutes(15), cancellationToken);
        var r = line.RootElement;
        return new ZkRound(
            r.GetProperty("seqMedianUs").GetDouble(),
            r.GetProperty("seqP99Us").GetDouble(),
            r.GetProperty("seqOpsPerSec").GetDouble(),
            r.GetProperty("get1OpsPerSec").GetDouble(),
            r.GetProperty("getNOpsPerSec").GetDouble(),
            r.GetProperty("seqCpuUs").GetDouble(),
            r.GetProperty("get1CpuUs").GetDouble(),
            r.GetProperty("getNCpuUs").GetDouble());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                await process.StandardInput.WriteLineAsync("quit");
                process.StandardInput.Close();
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(grace.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // our own child, by its handle
        }

        await errorPump;
        process.Dispose();
    }

    /// <summary>The next JSON line on the child's stdout; a non-JSON line is skipped (a library printing to stdout).</summary>
    private async Task<JsonDocument> ReadLineAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            string? line;
            try
            {
                line = await process.StandardOutput.ReadLineAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"ZkBench.java sent nothing for {timeout.TotalSeconds:0} s. stderr:\n{Errors()}");
            }

            if (line is null)
            {
                await process.WaitForExitAsync(CancellationToken.None);
                await errorPump;
                throw new InvalidOperationException($"ZkBench.java exited ({process.ExitCode}) before answering. stderr:\n{Errors()}");
            }

            if (line.StartsWith('{'))
            {
                return JsonDocument.Parse(line);
            }
        }
    }

    private string Errors()
    {
        lock (errors)
        {
            return errors.ToString();
        }
    }

    private async Task PumpErrorsAsync()
    {
        while (await process.StandardError.ReadLineAsync() is { } line)
        {
            lock (errors)
            {
                if (errors.Length < 64 * 1024)
                {
                    errors.AppendLine(line);
                }
            }
        }
    }
}
