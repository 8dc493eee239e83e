namespace Pipeline.ZooKeeper.Recipes;

/// <summary>
/// A second channel beside the ZooKeeper session by which a leader's death is learnt: one the operating system ends the
/// moment the leader's process dies (a connection it holds), so a standby need not wait for the session to expire.
/// <para>It only speeds up succession; it never grants leadership. A standby that sees the signal released checks that the
/// same leader's node is still the lowest and deletes it, and the election proceeds as if the session had expired. A
/// release seen while the leader lives (its signal connection dropped) deposes a live leader: safe, because every commit is
/// fenced by the token, and the deposed leader rejoins behind its successor.</para>
/// </summary>
public interface ILeaderCrashSignal
{
    /// <summary>Holds the signal of the leader with <paramref name="token"/> until <paramref name="whileLeading"/> is
    /// cancelled, taking it again whenever its connection is lost; calls <paramref name="held"/> each time it is taken.
    /// Ends only by cancellation; failures are retried.</summary>
    Task HoldAsync(FencingToken token, Action held, CancellationToken whileLeading);

    /// <summary>Completes once the signal of the leader with <paramref name="leader"/>, seen held, has been let go (its
    /// holder died, lost its connection or stopped holding). Waits as long as the signal was never seen held, so a leader
    /// that never takes it is left to its session. Calls <paramref name="armed"/> each time the wait is in place (the
    /// signal seen held, a release would be seen). Failures are retried; ends early only by cancellation.</summary>
    Task WaitForReleaseAsync(FencingToken leader, Action armed, CancellationToken cancellationToken);
}
