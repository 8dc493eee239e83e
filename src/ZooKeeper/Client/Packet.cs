using System.Diagnostics;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>
/// One request on its way: the record to send, where its reply goes and which watch its success registers. Lives in the
/// send queue, then in the connection's FIFO of sent requests until its reply arrives or the connection fails it.
/// </summary>
internal abstract class Packet
{
    private CancellationTokenRegistration cancellation;

    protected Packet(IRequestRecord request, string? clientPath, WatchRegistration? watch)
    {
        Request = request;
        ClientPath = clientPath;
        Watch = watch;
        StartedAt = Stopwatch.GetTimestamp();
    }

    public IRequestRecord Request { get; }

    /// <summary>The path as the caller gave it, for error messages.</summary>
    public string? ClientPath { get; }

    public WatchRegistration? Watch { get; }

    public long StartedAt { get; }

    /// <summary>When it was written to the connection (Stopwatch); its reply acknowledges that moment.</summary>
    public long SentAt { get; set; }

    public int Xid { get; set; }

    public abstract bool IsCompleted { get; }

    /// <summary>For exists: NoNode is an answer (null), not an error.</summary>
    public bool NoNodeIsAnswer { get; init; }

    /// <summary>Decodes a successful body (on the I/O loop); a failure is a protocol error and propagates to the loop.</summary>
    public abstract void Decode(ref JuteReader body, string? chroot);

    /// <summary>Completes the caller's task with the decoded body, or with the error code.</summary>
    public abstract void Deliver(ErrorCode err);

    public abstract bool Fail(Exception exception);

    public void Fail(ErrorCode code) => Fail(new KeeperException(code, ClientPath) { Operation = Request.OpCode });

    public void RegisterCancellation(CancellationToken token)
    {
        if (token.CanBeCanceled)
        {
            cancellation = token.Register(static state =>
            {
                var (packet, t) = ((Packet, CancellationToken))state!;
                packet.Fail(new OperationCanceledException(t));
            }, (this, token));
        }
    }

    protected void ReleaseCancellation() => cancellation.Dispose();
}

internal sealed class Packet<T> : Packet
    where T : IResponseRecord<T>
{
    private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<T, string?, T>? transform;

    public Packet(IRequestRecord request, string? clientPath, WatchRegistration? watch, Func<T, string?, T>? transform = null)
        : base(request, clientPath, watch)
    {
        this.transform = transform;
    }

    public Task<T> Task => completion.Task;

    public override bool IsCompleted => completion.Task.IsCompleted;

    private T? response;

    public override void Decode(ref JuteReader body, string? chroot)
    {
        var decoded = T.Read(ref body);
        response = transform is null ? decoded : transform(decoded, chroot);
    }

    public override void Deliver(ErrorCode err)
    {
        if (err == ErrorCode.Ok || (err == ErrorCode.NoNode && NoNodeIsAnswer))
        {
            if (completion.TrySetResult(response!))
            {
                ReleaseCancellation();
            }
        }
        else
        {
            Fail(err);
        }
    }

    public override bool Fail(Exception exception)
    {
        var failed = completion.TrySetException(exception);
        if (failed)
        {
            ReleaseCancellation();
        }

        return failed;
    }
}
