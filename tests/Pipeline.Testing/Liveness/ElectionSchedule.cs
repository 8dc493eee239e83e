using System.Globalization;

namespace Pipeline.Testing.Liveness;

/// <summary>What a schedule does to a candidate besides the faults on its wire.</summary>
public enum CandidateActionKind
{
    Resign,
    Rejoin,

    /// <summary>Dispose the candidate (its session is closed) and start a new one in its slot, behind the same proxy.</summary>
    Recreate,
}

/// <summary>A fault on the <see cref="Request"/>th regular request of the client in slot <see cref="Slot"/>.</summary>
public sealed record ScheduledFault(int Slot, int Request, FaultAction Action)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"c{Slot} request #{Request}: {Action}");
}

/// <summary>An action on the candidate in slot <see cref="Slot"/>, <see cref="At"/> after the schedule starts.</summary>
public sealed record CandidateAction(TimeSpan At, int Slot, CandidateActionKind Kind)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{At.TotalMilliseconds:0} ms: {Kind.ToString().ToLowerInvariant()} c{Slot}");
}

/// <summary>
/// One seeded run of an election under faults: 3 to 5 candidates, each behind its own <see cref="ZooKeeperFaultProxy"/>,
/// with faults on numbered requests (a third of them in bursts on consecutive requests, which is what finds compound faults
/// such as two lost replies in a row) and resignations, rejoins and recreations at random moments of the fault phase.
/// The same seed always gives the same schedule; how the run interleaves with the server may still vary.
/// </summary>
public sealed record ElectionSchedule(int Seed, int Candidates, TimeSpan SessionTimeout, TimeSpan FaultPhase, IReadOnlyList<ScheduledFault> Faults, IReadOnlyList<CandidateAction> Actions)
{
    /// <summary>The session every candidate asks for: the server's tick is 100 ms, so expiry comes within a tenth of it.</summary>
    public static readonly TimeSpan Session = TimeSpan.FromMilliseconds(1000);

    public static ElectionSchedule FromSeed(int seed)
    {
        var random = new Random(seed);
        var candidates = random.Next(3, 6);
        var phase = TimeSpan.FromMilliseconds(1500);
        var faults = new List<ScheduledFault>();
        for (var slot = 0; slot < candidates; slot++)
        {
            var taken = new HashSet<int>();
            for (var episode = random.Next(0, 4); episode > 0; episode--)
            {
                // Most requests of a candidate come early (join, first look at the election): weigh the small numbers.
                var first = 1 + (int)(Math.Pow(random.NextDouble(), 2) * 16);
                var length = random.NextDouble() < 0.35 ? random.Next(2, 4) : 1;
                for (var request = first; request < first + length; request++)
                {
                    if (taken.Add(request))
                    {
                        faults.Add(new ScheduledFault(slot, request, NextFault(random)));
                    }
                }
            }
        }

        var actions = new List<CandidateAction>();
        for (var count = random.Next(0, 6); count > 0; count--)
        {
            var kind = random.Next(100) switch
            {
                < 35 => CandidateActionKind.Resign,
                < 70 => CandidateActionKind.Rejoin,
                _ => CandidateActionKind.Recreate,
            };
            actions.Add(new CandidateAction(TimeSpan.FromMilliseconds(random.Next((int)phase.TotalMilliseconds)), random.Next(candidates), kind));
        }

        return new ElectionSchedule(seed, candidates, Session, phase, faults, [.. actions.OrderBy(a => a.At)]);
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"seed {Seed}: {Candidates} candidates, session {SessionTimeout.TotalMilliseconds:0} ms; faults: ") +
        (Faults.Count == 0 ? "none" : string.Join("; ", Faults)) + "; actions: " + (Actions.Count == 0 ? "none" : string.Join("; ", Actions));

    private static FaultAction NextFault(Random random) => random.Next(100) switch
    {
        < 25 => FaultAction.CutBeforeSend,
        < 60 => FaultAction.DropReply,
        < 80 => FaultAction.DelayReply(TimeSpan.FromMilliseconds(random.Next(50, 800))),

        // From well inside the read timeout (2/3 of the session) to past the session timeout.
        _ => FaultAction.Stall(TimeSpan.FromMilliseconds(random.Next(200, 1600))),
    };
}
