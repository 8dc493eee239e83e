using System.Diagnostics;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.ZooKeeper.Tests.Recipes;

/// <summary>Candidates for tests: short sessions, a path of the test's own, and waits that say what they waited for.</summary>
internal static class ElectionTestKit
{
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    public static ElectionCandidate Candidate(string connectString, string electionPath, string nodeId, TimeSpan? session = null)
    {
        var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = connectString,
            ElectionPath = electionPath,
            NodeId = nodeId,
            SessionTimeout = session ?? TimeSpan.FromSeconds(3),
            RetryDelay = TimeSpan.FromMilliseconds(100),
        });
        candidate.Start();
        return candidate;
    }

    public static async Task<LeadershipLease> LeaseOfAsync(ElectionCandidate candidate, TimeSpan? timeout = null) =>
        await Eventually.GetAsync(() => Task.FromResult(candidate.CurrentLease), timeout ?? WaitLimit, $"{candidate.NodeId} to lead", TimeSpan.FromMilliseconds(2)).ConfigureAwait(false);

    public static async Task<(ElectionCandidate Leader, LeadershipLease Lease)> LeaderAmongAsync(IEnumerable<ElectionCandidate> candidates, TimeSpan? timeout = null)
    {
        var list = candidates.ToList();
        var found = await Eventually.GetAsync(
            () => Task.FromResult(list.Select(c => (Candidate: c, Lease: c.CurrentLease)).Where(x => x.Lease is not null).Select(x => Tuple.Create(x.Candidate, x.Lease!)).FirstOrDefault()),
            timeout ?? WaitLimit, $"a leader among {string.Join(", ", list.Select(c => c.NodeId))}", TimeSpan.FromMilliseconds(2)).ConfigureAwait(false);
        return (found.Item1, found.Item2);
    }

    public static double Ms(TimeSpan t) => Math.Round(t.TotalMilliseconds, 1);

    public static TimeSpan Since(long timestamp) => Stopwatch.GetElapsedTime(timestamp);
}
