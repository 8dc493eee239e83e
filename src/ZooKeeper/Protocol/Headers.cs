namespace Pipeline.ZooKeeper.Protocol;

/// <summary>Precedes every client request except the ConnectRequest: int xid, int type (8 bytes).</summary>
public readonly record struct RequestHeader(int Xid, OpCode Type)
{
    public const int Size = 8;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(Xid);
        writer.WriteInt((int)Type);
    }

    public static RequestHeader Read(ref JuteReader reader) => new(reader.ReadInt(), (OpCode)reader.ReadInt());
}

/// <summary>Precedes every server reply except the ConnectResponse: int xid, long zxid, int err (16 bytes).</summary>
public readonly record struct ReplyHeader(int Xid, long Zxid, ErrorCode Err)
{
    public const int Size = 16;

    public static ReplyHeader Read(ref JuteReader reader) => new(reader.ReadInt(), reader.ReadLong(), (ErrorCode)reader.ReadInt());

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(Xid);
        writer.WriteLong(Zxid);
        writer.WriteInt((int)Err);
    }
}

/// <summary>Precedes each op of a multi request and each result of its reply: int type, boolean done, int err (9 bytes).</summary>
public readonly record struct MultiHeader(OpCode Type, bool Done, ErrorCode Err)
{
    public const int Size = 9;

    public static readonly MultiHeader End = new(OpCode.Error, true, (ErrorCode)(-1));

    public static MultiHeader Read(ref JuteReader reader) => new((OpCode)reader.ReadInt(), reader.ReadBool(), (ErrorCode)reader.ReadInt());

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt((int)Type);
        writer.WriteBool(Done);
        writer.WriteInt((int)Err);
    }
}

/// <summary>
/// The handshake: int protocolVersion, long lastZxidSeen, int timeOut, long sessionId, buffer passwd, then the readOnly
/// byte appended by hand (not part of the 3.8 jute record). 45 bytes.
/// </summary>
public sealed record ConnectRequest(int ProtocolVersion, long LastZxidSeen, int TimeOut, long SessionId, byte[] Password, bool ReadOnly)
{
    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(ProtocolVersion);
        writer.WriteLong(LastZxidSeen);
        writer.WriteInt(TimeOut);
        writer.WriteLong(SessionId);
        writer.WriteBuffer(Password);
        writer.WriteBool(ReadOnly);
    }

    public static ConnectRequest Read(ref JuteReader reader)
    {
        var request = new ConnectRequest(reader.ReadInt(), reader.ReadLong(), reader.ReadInt(), reader.ReadLong(), reader.ReadBuffer() ?? [], false);
        return reader.Remaining > 0 ? request with { ReadOnly = reader.ReadBool() } : request;
    }
}

/// <summary>The handshake's answer. TimeOut &lt;= 0 or SessionId 0 means the session is expired (check both).</summary>
public sealed record ConnectResponse(int ProtocolVersion, int TimeOut, long SessionId, byte[] Password, bool ReadOnly)
{
    public bool IsExpired => TimeOut <= 0 || SessionId == 0;

    public static ConnectResponse Read(ref JuteReader reader)
    {
        var response = new ConnectResponse(reader.ReadInt(), reader.ReadInt(), reader.ReadLong(), reader.ReadBuffer() ?? [], false);

        // The server appends the readOnly byte only when the client sent one; we always do, but tolerate its absence.
        if (reader.Remaining > 0)
        {
            response = response with { ReadOnly = reader.ReadBool() };
        }

        reader.EnsureEnd(nameof(ConnectResponse));
        return response;
    }

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(ProtocolVersion);
        writer.WriteInt(TimeOut);
        writer.WriteLong(SessionId);
        writer.WriteBuffer(Password);
        writer.WriteBool(ReadOnly);
    }
}
