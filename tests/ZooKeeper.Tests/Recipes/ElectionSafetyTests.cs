using System.Diagnostics;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Recipes;
using Xunit.Abstractions;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Recipes;

/// <summary>
/// Five candidates, each behind its own TCP proxy, under a seeded random schedule of at least 200 faults: closed and abandoned
/// sessions, cut connections, connections paused past the session timeout, resignations, rejoins, the leader's node deleted
/// by hand. Every lease is recorded; the history must show no two leases held at once and no token going backwards.
/// </summary>
public sealed class ElectionSafetyTests(ZooKeeperChroot chroot, ITestOutputHelper output) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Session = TimeSpan.FromSeconds(2);
    private const int MinimumLeases = 10;

    [Fact]
    public async Task No_two_leases_overlap_and_tokens_never_go_backwards_under_a_random_fault_schedule()
    {
        var seed = Environment.GetEnvironmentVariable("PIPELINE_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (set PIPELINE_TEST_SEED to replay)");
        var random = new Random(seed);
        var path = "/election/" + TestResourceNames.New();
        var history = new LeaseHistory();
        var server = chroot.Servers.Split(',')[0];
        var slots = new List<Slot>();
        var pending = new List<Task>();
        var counts = new Dictionary<string, int>();
        await using var admin = await chroot.ConnectAsync();

        try
        {
            for (var i = 0; i < 5; i++)
            {
                var proxy = await TcpProxy.StartAsync(server);
                slots.Add(new Slot(i, proxy, NewCandidate(proxy, path, i, 0, history)));
            }

            await LeaderAmongAsync(slots.Select(x => x.Candidate));
            // 220 steps, and more (up to 1,000) until the schedule has granted ten leases: on a busy machine the candidates
            // take longer to lead between faults, and a schedule that never lets them proves nothing.
            for (var step = 0; step < 220 || (history.Records.Count < MinimumLeases && step < 1_000); step++)
            {
                var slot = slots[random.Next(slots.Count)];
                var fault = random.Next(100) switch
                {
                    < 12 => "close",
                    < 20 => "abandon",
                    < 40 => "cut",
                    < 50 => "pause",
                    < 62 => "resign",
                    < 80 => "rejoin",
                    _ => "delete-leader",
                };
                counts[fault] = counts.GetValueOrDefault(fault) + 1;
                switch (fault)
                {
                    case "close":
                        await slot.Candidate.DisposeAsync();
                        slot.Candidate = NewCandidate(slot.Proxy, path, slot.Index, ++slot.Generation, history);
                        break;
                    case "abandon":
                        // The connection dies without a closeSession: the server expires the session after its timeout.
                        slot.Proxy.Cut();
                        await slot.Candidate.DisposeAsync();
                        slot.Proxy.Heal();
                        slot.Candidate = NewCandidate(slot.Proxy, path, slot.Index, ++slot.Generation, history);
                        break;
                    case "cut":
                        slot.Proxy.Cut();
                        pending.Add(HealLaterAsync(slot.Proxy, TimeSpan.FromMilliseconds(random.Next(300))));
                        break;
                    case "pause":
                        slot.Proxy.Pause();
                        pending.Add(HealLaterAsync(slot.Proxy, Session + TimeSpan.FromMilliseconds(300 + random.Next(500))));
                        break;
                    case "resign":
                        pending.Add(slot.Candidate.ResignAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default));
                        break;
                    case "rejoin":
                        slot.Candidate.Rejoin();
                        break;
                    default:
                        await DeleteLeaderNodeAsync(admin, path, slots, history);
                        break;
                }

                await Task.Delay(random.Next(40));
            }

            foreach (var slot in slots)
            {
                slot.Proxy.Heal();
                slot.Candidate.Rejoin();
            }

            await Task.WhenAll(pending);
            await LeaderAmongAsync(slots.Select(x => x.Candidate), TimeSpan.FromSeconds(30));
        }
        finally
        {
            foreach (var slot in slots)
            {
                await slot.Candidate.DisposeAsync();
                await slot.Proxy.DisposeAsync();
            }
        }

        var records = history.Records;
        output.WriteLine($"faults: {string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))}; leases granted: {records.Count}");
        var problems = LeaseHistory.Check(records);
        Assert.True(problems.Count == 0, $"seed {seed}: {problems.Count} violations:\n" + string.Join("\n", problems.Take(20)));
        Assert.True(records.Count >= MinimumLeases, $"only {records.Count} leases were granted in 1,000 steps: the schedule did not exercise the election");
        Assert.All(records, r => Assert.NotNull(r.End)); // every lease ended by the time the candidates were disposed
    }

    private ElectionCandidate NewCandidate(TcpProxy proxy, string path, int index, int generation, LeaseHistory history)
    {
        var candidate = Candidate(proxy.Endpoint + chroot.Path, path, $"c{index}.{generation}", Session);
        _ = history.FollowAsync(candidate);
        return candidate;
    }

    /// <summary>Deletes the lowest node by hand. Its holder cannot know before the server tells it, so its lease counts as
    /// ended when the delete is issued: that gap is exactly what fencing tokens cover downstream.</summary>
    private static async Task DeleteLeaderNodeAsync(ZooKeeperClient admin, string path, List<Slot> slots, LeaseHistory history)
    {
        var children = ElectionCandidate.Sorted((await admin.GetChildrenAsync(path)).Children).ToList();
        if (children.Count == 0)
        {
            return;
        }

        var lowest = children[0].Name;
        if (slots.Select(s => s.Candidate.CurrentLease).FirstOrDefault(l => l?.Znode == lowest) is { } lease)
        {
            history.EndedExternally(lease, Stopwatch.GetTimestamp());
        }

        try
        {
            await admin.DeleteAsync(path + "/" + lowest);
        }
        catch (Pipeline.ZooKeeper.Protocol.KeeperException ex) when (ex.Code == Pipeline.ZooKeeper.Protocol.ErrorCode.NoNode)
        {
        }
    }

    private static async Task HealLaterAsync(TcpProxy proxy, TimeSpan after)
    {
        await Task.Delay(after);
        proxy.Heal();
    }

    private sealed class Slot(int index, TcpProxy proxy, ElectionCandidate candidate)
    {
        public int Index { get; } = index;

        public TcpProxy Proxy { get; } = proxy;

        public ElectionCandidate Candidate { get; set; } = candidate;

        public int Generation { get; set; }
    }
}
