using System.Diagnostics;
using Pipeline.Testing;
using Xunit.Abstractions;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Recipes;

/// <summary>The leader in a process of its own, killed with SIGKILL: its session is left to expire, and another candidate
/// must lead within the session timeout plus one second. A private server with a 200 ms tick: the server expires sessions
/// on tick boundaries, so the shared server's coarser tick would eat into the second.</summary>
[Collection(TimingCollection.Name)]
public sealed class ElectionProcessTests(ZooKeeperStandalone server, ITestOutputHelper output) : IClassFixture<ZooKeeperStandalone>
{
    private static readonly TimeSpan Session = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task After_kill_9_of_the_leader_process_another_leads_within_the_session_timeout_plus_one_second()
    {
        var path = "/election/" + TestResourceNames.New();
        var times = new List<double>();
        for (var round = 0; round < 2; round++)
        {
            using var child = StartCandidateProcess(path, $"proc-{round}");
            try
            {
                await WaitForLineAsync(child, "LEADER", TimeSpan.FromSeconds(60));
                await using var local = Candidate(server.ConnectString, path, $"local-{round}", Session);
                await Eventually.TrueAsync(() => Task.FromResult(local.Znode is not null), WaitLimit, "the local candidate to join");
                Assert.Null(local.CurrentLease);

                var clock = Stopwatch.StartNew();
                child.Kill(entireProcessTree: true); // SIGKILL: no closeSession, the session must expire
                var lease = await LeaseOfAsync(local, TimeSpan.FromSeconds(30));
                times.Add(Ms(clock.Elapsed));
                Assert.True(clock.Elapsed <= Session + TimeSpan.FromSeconds(1), $"led {clock.Elapsed.TotalMilliseconds:0} ms after kill -9 (session {Session.TotalMilliseconds} ms)");
                Assert.True(lease.Token.Sequence > 0);
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }
            }
        }

        output.WriteLine($"failover after kill -9: {string.Join(", ", times)} ms (session timeout {Session.TotalMilliseconds} ms)");
    }

    private Process StartCandidateProcess(string path, string nodeId)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Pipeline.ElectionCandidateHost.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in new[] { dll, server.ConnectString, path, nodeId, ((int)Session.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start the candidate process");
    }

    private static async Task WaitForLineAsync(Process process, string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException($"the candidate process exited (code {(process.HasExited ? process.ExitCode : -1)}) before printing {prefix}");
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return;
            }
        }
    }
}
