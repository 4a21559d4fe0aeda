# Trained by dpi 0.1.0 from 1328 captures against ndpi; support n = training flows matched
# dpi-train: source=trained:ndpi precision=1 tp=15 fp=0
Service: DHCP            udp port 67    n =   279 src = "  010600"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: DHCP            udp port 68    n =    10 src = "02010600"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: DHCPV6          udp port 547   n =     8 src = "0       000 "
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: DNP3            tcp port 20000 n =    27 src = "05            00"
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: DNP3            tcp port 20000 n =    28 dst = "0564"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: DNS             tcp port 53    n =     7 src = "        01200001000000000001"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: DNS             tcp port 53    n =     8 src = "            000100"
# dpi-train: source=trained:ndpi precision=1 tp=66 fp=0
Service: DNS             udp port 53    n =   193 src = "    010000010000000000000           6 "
# dpi-train: source=trained:ndpi precision=1 tp=76 fp=0
Service: DNS             udp port 53    n =   223 src = "    01000001000000000000                            6 "
# dpi-train: source=trained:ndpi precision=1 tp=47 fp=0
Service: DNS             udp port 53    n =   211 src = "    01000001000000000000                                    6 "
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: DNS             udp port 53    n =    47 src = "     00000"
# dpi-train: source=trained:ndpi precision=0.9916 tp=237 fp=2
Service: DNS             udp port 53    n =   603 src = "       000              0 "
# dpi-train: source=trained:ndpi precision=1 tp=37 fp=0
Service: DNS             udp port 53    n =   116 src = "        0001000000000001"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: DNS             udp port 53    n =    31 src = "        00010000000000                              0000010001"
# dpi-train: source=trained:ndpi precision=1 tp=87 fp=0
Service: DNS             udp port 53    n =   596 src = "        000100          0 "
# dpi-train: source=trained:ndpi precision=1 tp=61 fp=0
Service: DNS             udp port 53    n =   194 src = "                00000000  6 "
# dpi-train: source=trained:ndpi precision=1 tp=32 fp=0
Service: DNS             udp port 53    n =   178 dst = "    8180000100            6 "
# dpi-train: source=trained:ndpi precision=1 tp=43 fp=0
Service: DNS             udp port 53    n =   139 dst = "    8180000100                                          0 "
# dpi-train: source=trained:ndpi precision=1 tp=102 fp=0
Service: DNS             udp port 53    n =   252 dst = "        000100                              6 "
# dpi-train: source=trained:ndpi precision=1 tp=45 fp=0
Service: FTP_CONTROL     tcp port 21    n =    45 src = "5553455220"
# dpi-train: source=trained:ndpi precision=1 tp=29 fp=0
Service: HTTP            tcp port 80    n =   140 dst = "485454502F312E  203230        0D0A      7 "
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: Jabber          tcp port 5223  n =     6 src = "2500451404"
# dpi-train: source=trained:ndpi precision=1 tp=25 fp=0
Service: Kerberos        tcp port 88    n =    25 src = "0000"
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: Kerberos        udp port 88    n =    21 src = "6 820 "
# dpi-train: source=trained:ndpi precision=1 tp=13 fp=0
Service: Kerberos        udp port 88    n =   105 src = "6 8               0 0 "
# dpi-train: source=trained:ndpi precision=1 tp=79 fp=0
Service: LLMNR           udp port 5355  n =    79 src = "    00000001000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=7 fp=0
Service: MDNS            udp port 5353  n =    13 src = "0000  0000      000000       5"
# dpi-train: source=trained:ndpi precision=1 tp=9 fp=0
Service: MDNS            udp port 5353  n =    29 src = "0000  0000      000000                      6 "
# dpi-train: source=trained:ndpi precision=1 tp=20 fp=0
Service: MDNS            udp port 5353  n =    37 src = "0000  0000      000000                              6 "
# dpi-train: source=trained:ndpi precision=1 tp=11 fp=0
Service: MDNS            udp port 5353  n =    26 src = "    000000  000000000000                            6 "
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: Modbus          tcp port 502   n =    23 src = "0   000000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: MySQL           tcp port 3306  n =    15 src = "  000001"
# dpi-train: source=trained:ndpi precision=1 tp=11 fp=0
Service: MySQL           tcp port 3306  n =    16 src = "    0001"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: NFS             udp port 20048 n =    40 src = "        0000000000000002000186"
# dpi-train: source=trained:ndpi precision=1 tp=24 fp=0
Service: NTP             udp port 123   n =    75 src = "  0 0   00"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: Nats            tcp port 6379  n =     8 src = "50494E470D0A"
# dpi-train: source=trained:ndpi precision=1 tp=15 fp=0
Service: NetBIOS         tcp port 445   n =    38 dst = "0000      534D42      0000  0       0 "
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: NetBIOS         tcp port 445   n =    29 dst = "0000    FE534D424000  0000000000    0 "
# dpi-train: source=trained:ndpi precision=1 tp=49 fp=0
Service: NetBIOS         udp port 137   n =    49 src = "                00  00"
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: POP3            tcp port 110   n =    11 dst = "2B4F4B20504F50207365727665722072656164792048206D69"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: POP3            tcp port 110   n =    12 dst = "2B4F4B20        7 "
# dpi-train: source=trained:ndpi precision=1 tp=3 fp=0
Service: PostgreSQL      tcp port 5432  n =    16 src = "000000"
# dpi-train: source=trained:ndpi precision=1 tp=2 fp=0
Service: QUIC            udp port 443   n =   122 src = "  FF0000"
# dpi-train: source=trained:ndpi precision=1 tp=6 fp=0
Service: QUIC            udp port 443   n =   122 src = "C                           0000"
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: QUIC            udp port 443   n =    30 dst = "  0000000 "
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: RESP            tcp port 6379  n =    10 src = "2A3   0 "
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: SMTP            tcp port 25    n =    17 src = " 5 8 C      6 "
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: SNMP            udp port 161   n =    90 src = "30    0 0 "
# dpi-train: source=trained:ndpi precision=1 tp=11 fp=0
Service: SOCKS           tcp port 1080  n =    11 src = "0 0 00"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: SSDP            udp port 1900  n =    46 src = "4   5 4 4 "
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: SSH             tcp port 22    n =    66 src = "5353482D"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: SSH             tcp port 22    n =    31 dst = "5353482D            7 "
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: STUN            udp port 3478  n =    12 src = "000300  2112A442     B"
# dpi-train: source=trained:ndpi precision=1 tp=2 fp=0
Service: Service_Location_Protocol udp port 427   n =   623 src = "0 0 0      0"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: Spotify         udp port 57621 n =    12 src = "53706F7455647030"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: Syslog          udp port 514   n =    20 src = "3C3 3 "
# dpi-train: source=trained:ndpi precision=0.9954 tp=863 fp=4
Service: TLS             tcp port 443   n =   863 src = "1 030 "
# dpi-train: source=trained:ndpi precision=0.9932 tp=584 fp=4
Service: TLS             tcp port 443   n =   814 dst = "1 030 "
# dpi-train: source=trained:ndpi precision=1 tp=14 fp=0
Service: Teredo          udp port 3544  n =    14 src = "    0000"
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: WhatsApp        tcp port 5222  n =    92 src = "  4     0000"
