using Npgsql;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Messaging;

namespace Pipeline.OrderService.Tests;

/// <summary>
/// Which faults send a delivery back to its queue instead of the _error queue (where its order would stay undecided):
/// everything that is not the message's own fault. Found by the fault suite (a database restart parked orders at intake)
/// and the pipeline benchmark (an endpoint stopped on leadership loss parked commits whose delivery token it cancelled).
/// </summary>
public sealed class RequeueFilterTests
{
    public static TheoryData<string, Exception> NotTheMessagesFault => new()
    {
        { "leadership lost", new LeadershipLostException("lease ended") },
        { "delivery cancelled by a stopping endpoint", new TaskCanceledException() },
        { "operation cancelled", new OperationCanceledException() },
        { "database connection dropped", new NpgsqlException("Exception while reading from stream", new EndOfStreamException()) },
        { "database admin shutdown", new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", "57P01") },
        { "lock timeout", new PostgresException("canceling statement due to lock timeout", "ERROR", "ERROR", "55P03") },
        { "wrapped", new AggregateException(new InvalidOperationException("x"), new LeadershipLostException("lost")) },
    };

    public static TheoryData<string, Exception> TheMessagesFault => new()
    {
        { "bad content", new InvalidOperationException("unreadable order") },
        { "unusable id", new UnusableOrderIdException("id too long") },
        { "constraint", new PostgresException("violates check constraint", "ERROR", "ERROR", "23514") },
    };

    [Theory]
    [MemberData(nameof(NotTheMessagesFault))]
    public void Faults_that_are_not_the_messages_are_requeued(string what, Exception exception) =>
        Assert.True(RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(exception), what);

    [Theory]
    [MemberData(nameof(TheMessagesFault))]
    public void The_messages_own_faults_go_to_the_error_queue(string what, Exception exception) =>
        Assert.False(RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(exception), what);

    [Fact]
    public void A_stale_leader_rejection_is_requeued_as_leadership_lost() =>
        Assert.True(RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(new LeadershipLostException("fenced off", new StaleLeaderException(new FenceToken(1, 1), new FenceToken(1, 2), "n"))));
}
